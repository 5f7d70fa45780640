// MemoryStore is header-only; this file gives the store library an object file.
#include "store/store.hpp"
