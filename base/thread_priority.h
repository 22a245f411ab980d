// Background threads (reports, alert checks) yield the cores to the I/O threads: Linux gives
// every thread its own nice value, so one thread can be lowered without the process.
#pragma once

namespace abrec {

// Sets the calling thread's nice value to `nice` (0..19; higher runs later when cores are
// busy). Logs a warning and changes nothing when the kernel refuses. 0 is a no-op.
void SetThisThreadNice(int nice);

}  // namespace abrec
