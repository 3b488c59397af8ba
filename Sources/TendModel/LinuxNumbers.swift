// The Linux numbers the model speaks in (signals, errno values), as the kernel's generic ABI defines them
// (x86-64, arm64, riscv64, ...). The model imports no Glibc, so it names them itself; they are internal, so
// modules that import both this one and Glibc see Glibc's. A test checks each against Glibc's value.

let SIGHUP: Int32 = 1, SIGINT: Int32 = 2, SIGQUIT: Int32 = 3, SIGILL: Int32 = 4, SIGTRAP: Int32 = 5
let SIGABRT: Int32 = 6, SIGBUS: Int32 = 7, SIGFPE: Int32 = 8, SIGKILL: Int32 = 9, SIGUSR1: Int32 = 10
let SIGSEGV: Int32 = 11, SIGUSR2: Int32 = 12, SIGPIPE: Int32 = 13, SIGALRM: Int32 = 14, SIGTERM: Int32 = 15
let SIGSTKFLT: Int32 = 16, SIGCHLD: Int32 = 17, SIGCONT: Int32 = 18, SIGSTOP: Int32 = 19, SIGTSTP: Int32 = 20
let SIGTTIN: Int32 = 21, SIGTTOU: Int32 = 22, SIGURG: Int32 = 23, SIGXCPU: Int32 = 24, SIGXFSZ: Int32 = 25
let SIGVTALRM: Int32 = 26, SIGPROF: Int32 = 27, SIGWINCH: Int32 = 28, SIGIO: Int32 = 29, SIGPWR: Int32 = 30
let SIGSYS: Int32 = 31
