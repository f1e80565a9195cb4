/* Compiles sys2.h alone as strict C99 (make header-check): the public header needs nothing else. */
#include "sys2.h"
int main(void) { return s2_status_str(S2_OK) == 0; }
