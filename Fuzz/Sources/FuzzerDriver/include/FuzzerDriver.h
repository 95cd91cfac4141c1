#ifndef TESSERA_FUZZER_DRIVER_H
#define TESSERA_FUZZER_DRIVER_H

#include <stddef.h>
#include <stdint.h>

/// Runs libFuzzer's driver (its command line: corpus directories, -runs=,
/// -max_total_time=, ...) on `test_one_input`; returns the process's exit status.
int tessera_fuzzer_main(int argc, char **argv, int (*test_one_input)(const uint8_t *data, size_t size));

#endif
