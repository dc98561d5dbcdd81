#ifndef COPENBLAS_SHIM_H
#define COPENBLAS_SHIM_H
/* cblas.h also declares openblas_set_num_threads and openblas_get_config. */
#include <cblas.h>
/* Debian's OpenBLAS is built NO_LAPACKE, so liblapacke is linked on its own. */
#include <lapacke.h>
#endif
