// Process-level tuning of the CPU heap.
#pragma once

namespace sv {

// By default glibc serves every block above 32 MiB with a fresh mmap and
// returns it on free, so each large activation is page-faulted in again on
// every layer. Under a hypervisor those faults cost more than the GEMM
// writing the block (measured: bench dit went from ~200 to ~290 GFLOP/s on
// 2 cores). Raising the thresholds makes freed blocks reused from the heap.
// Call once at start-up, before large allocations.
void keep_freed_memory_mapped();

}  // namespace sv
