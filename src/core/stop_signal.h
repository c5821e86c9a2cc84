// Preemption: Slurm sends SIGTERM (requeue, time limit) or the --signal of
// the job (SIGUSR1 in our templates) shortly before it kills a job. The
// handler only records the request; workers look at it after every
// denoising step, save their state and the run exits for requeue.
#pragma once

namespace sv::jobs {

// Installs handlers for SIGTERM, SIGUSR1 and SIGINT (a second SIGINT kills
// the process as usual). The signal state is process-wide by nature.
void install_stop_handlers();
bool stop_requested();
int stop_signal_number();  // the first signal received, 0 if none
void request_stop_for_test();

}  // namespace sv::jobs
