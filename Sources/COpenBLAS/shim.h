// pkg-config puts OpenBLAS's own include folder first, so this is its cblas.h.
#include <cblas.h>
