#ifndef CHDF5_SHIM_H
#define CHDF5_SHIM_H
/* Debian's serial HDF5 lives in /usr/include/hdf5/serial; its own includes resolve
   next to it, so no -I flag is needed. */
#include <stdio.h>
#include <hdf5/serial/hdf5.h>
/* HDF5's constants are macros around globals that Swift cannot import. */
static inline hid_t chdf5_native_float(void) { return H5T_NATIVE_FLOAT; }
static inline hid_t chdf5_native_double(void) { return H5T_NATIVE_DOUBLE; }
static inline hid_t chdf5_native_int8(void) { return H5T_NATIVE_INT8; }
static inline hid_t chdf5_native_uint8(void) { return H5T_NATIVE_UINT8; }
static inline hid_t chdf5_native_int16(void) { return H5T_NATIVE_INT16; }
static inline hid_t chdf5_native_uint16(void) { return H5T_NATIVE_UINT16; }
static inline hid_t chdf5_native_int32(void) { return H5T_NATIVE_INT32; }
static inline hid_t chdf5_native_uint32(void) { return H5T_NATIVE_UINT32; }
static inline hid_t chdf5_native_int64(void) { return H5T_NATIVE_INT64; }
static inline hid_t chdf5_native_uint64(void) { return H5T_NATIVE_UINT64; }
static inline hid_t chdf5_c_s1(void) { return H5T_C_S1; }
static inline hid_t chdf5_p_default(void) { return H5P_DEFAULT; }
static inline hid_t chdf5_s_all(void) { return H5S_ALL; }
static inline hid_t chdf5_p_dataset_create(void) { return H5P_DATASET_CREATE; }
static inline hid_t chdf5_p_file_access(void) { return H5P_FILE_ACCESS; }
static inline unsigned chdf5_acc_trunc(void) { return H5F_ACC_TRUNC; }
static inline unsigned chdf5_acc_rdonly(void) { return H5F_ACC_RDONLY; }
static inline unsigned chdf5_acc_rdwr(void) { return H5F_ACC_RDWR; }
static inline size_t chdf5_variable(void) { return H5T_VARIABLE; }
static inline hid_t chdf5_ieee_f32le(void) { return H5T_IEEE_F32LE; }
static inline hid_t chdf5_std_u8le(void) { return H5T_STD_U8LE; }
static inline hid_t chdf5_std_u16le(void) { return H5T_STD_U16LE; }
static inline hid_t chdf5_p_file_create(void) { return H5P_FILE_CREATE; }
static inline hid_t chdf5_p_group_create(void) { return H5P_GROUP_CREATE; }

/* Error-stack text for our own messages: the outermost (API-level) and innermost (most
   specific) descriptions of the calling thread's default stack. */
typedef struct {
    char *outermost;
    char *innermost;
    size_t size;
    unsigned count;
} chdf5_error_text;

static inline herr_t chdf5_error_walker(unsigned n, const H5E_error2_t *error, void *data) {
    chdf5_error_text *text = (chdf5_error_text *)data;
    (void)n;
    if (error == NULL || error->desc == NULL || error->desc[0] == 0) return 0;
    if (text->count == 0) snprintf(text->outermost, text->size, "%s", error->desc);
    snprintf(text->innermost, text->size, "%s", error->desc);
    text->count += 1;
    return 0;
}

/* Fills `outermost` and `innermost` (each `size` bytes) from the current error stack and
   returns how many descriptions it had. */
static inline unsigned chdf5_error_descriptions(char *outermost, char *innermost, size_t size) {
    chdf5_error_text text = {outermost, innermost, size, 0};
    if (size > 0) { outermost[0] = 0; innermost[0] = 0; }
    (void)H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, chdf5_error_walker, &text);
    return text.count;
}
#endif
