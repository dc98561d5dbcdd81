import QuantaRuntime
import Testing
