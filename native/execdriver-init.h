/*
 * What the files of the C init share (PROTOCOL.md, "Where things are"): the frame codec, the op
 * table and how an op reports a failure, the plan, and each concern's functions and state.
 */
#ifndef EXECDRIVER_INIT_H
#define EXECDRIVER_INIT_H
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "events.h"                     /* EVENTS_NFDS, the poll slots of the event log */

/* the plan protocol's version (PROTOCOL.md); PROTOCOL_VERSION in src/init/protocol.ts is the same */
#define PROTOCOL_VERSION 7
#define STR_(x) #x
#define STR(x) STR_(x)
#define PROTOCOL_STR STR(PROTOCOL_VERSION)

#define CTL 3                                   /* the control socket */
#define MAX_FIELDS 65536
#define MAX_FIELD (16u << 20)
#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWPID | CLONE_NEWNET | \
		  CLONE_NEWUSER | CLONE_NEWCGROUP)
#define RETRY(expr) ({ long r_; do r_ = (long)(expr); while (r_ == -1 && errno == EINTR); r_; })
#define NELEM(a) (sizeof(a) / sizeof *(a))
#define UNUSED __attribute__((unused))

/* ------------------------------------------------------------------ frame.c: frames */

struct frame { uint32_t n; char **f; };         /* f[n] == NULL; fields are NUL-terminated copies */

void *xmalloc(size_t n);
ssize_t read_full(int fd, void *buf, size_t n);
int write_full(int fd, const void *buf, size_t n);
int write_wait(int fd, const void *buf, size_t n);
/* 1: a frame; 0: EOF before a frame; -1: error or truncated frame (errno set). */
int read_frame(int fd, struct frame *fr);
void free_frame(struct frame *fr);
int send_frame(int fd, const char *const *f, size_t n);
#define FIELDS(...) (const char *const[]){ __VA_ARGS__ }, NELEM(((const char *const[]){ __VA_ARGS__ }))
/* Strict unsigned parsing: decimal flags and ids, octal modes, hexadecimal capability masks. */
int num(const char *s, int base, unsigned long long max, unsigned long long *v);

/* ------------------------------------------------------------------ ops.c: the op table */

enum op_kind { OP_MONITOR, OP_CONTAINER };

struct op {
	const char *name;
	enum op_kind kind;              /* the monitor's, or carried out by the child in order */
	int nargs;                      /* its arguments: exactly nargs, or at least nargs if variadic */
	int variadic;
	/* (monitor, for any op) when the plan is read: check its arguments and take in what the
	 * monitor needs; a problem is written to MSG. NULL: nothing beyond the argument count */
	void (*check)(size_t i, char **a, char *msg, size_t sz);
	/* (child) carry out a container op: 0, or -1 with `err` set (fail()) */
	int (*run)(char **a);
};

const struct op *find_op(const char *name);
int print_protocol(void);

/* The failure of a container op, for its error frame. */
extern struct op_error { int no; char path[PATH_MAX]; char msg[2 * PATH_MAX + 128]; } err;
/* Record a failure, with errno as it is now; returns -1. */
__attribute__((format(printf, 2, 3))) int fail(const char *path, const char *fmt, ...);
/* Parse an argument; on a bad one record EINVAL "invalid WHAT S" and return -1. */
int arg(const char *s, int base, unsigned long long max, unsigned long long *v, const char *what);
void close_keep_errno(int fd);

/* ------------------------------------------------------------------ plan.c: the plan */

extern struct frame *plan;              /* the ops, without the protocol frame and ["end"] */
extern size_t nplan;
int read_plan(void);
int run_plan(const char *path);
/* For an op a plan may hold once: -1 with "NAME more than once" in MSG if *INDEX >= 0, else *INDEX = I. */
int check_once(long *index, size_t i, const char *name, char *msg, size_t sz);

/* ------------------------------------------------------------------ mounts.c: mounts and the rootfs */

extern const char *root;                /* where relative paths are resolved; "/" after pivot */
/* An open file, and a name for it that path-based syscalls (mount, chmod) accept. */
struct res { int fd; char path[PATH_MAX + 2]; };
const char *show(const char *p);
int resolve(const char *p, int flags, struct res *r);
int mkdir_p(const char *p);
int mkfile(const char *p);
/* `mount-source` / `move-mount` (userns.c): trees the monitor opened, passed over a socketpair */
extern struct mount_sources { int sock, child_sock; long count; int *fd; } src;
int op_root(char **a);
int op_mount(char **a);
int op_mask(char **a);
int op_readonly(char **a);
int op_chown(char **a);
int op_mknod(char **a);
int op_symlink(char **a);
int op_pivot(char **a);
int op_chroot_move(char **a);
int op_move_mount(char **a);
void check_mount_source(size_t i, char **a, char *msg, size_t sz);
void check_move_mount(size_t i, char **a, char *msg, size_t sz);
int mkpath(int argc, char **argv);

/* ------------------------------------------------------------------ clone.c: namespaces and the child */

extern unsigned long clone_flags;
extern long clone_index;
extern int errfd;                       /* (child) write end of the error pipe (close-on-exec) */
void check_clone(size_t i, char **a, char *msg, size_t sz);
pid_t clone_child(int go[2], int errp[2], int sigfd);
int op_unshare(char **a);
int op_setns(char **a);
int op_sethostname(char **a);

/* ------------------------------------------------------------------ netif.c: the container's network */

int op_ifup(char **a);
int op_ifaddr(char **a);
int op_route_default(char **a);

/* ------------------------------------------------------------------ process.c: the process's attributes */

extern char **envv;                     /* the command's environment, only from `env` ops */
extern size_t nenv;
extern mode_t cmd_umask;                /* the command's umask (the ops themselves run with 0) */
int op_umask(char **a);
int op_bounding(char **a);
int op_user(char **a);
int op_caps(char **a);
int op_ambient(char **a);
int op_no_new_privs(char **a);
int op_pdeathsig(char **a);
int op_closefds(char **a);
int op_chdir(char **a);
int op_env(char **a);
int op_session_keyring(char **a);
int op_seccomp_filter(char **a);

/* ------------------------------------------------------------------ exec.c: exec, the minimal init */

#define N_FWD_SIGNALS 8
extern const int fwd_signals[N_FWD_SIGNALS];   /* what `init` and `signals-forward` forward */
extern int init_mode;                   /* `init`: fork once more, stay pid 1 as a minimal init */
void check_init(size_t i, char **a, char *msg, size_t sz);
int op_exec(char **a);
int clean_exec(int argc, char **argv, int ctty);

/* ------------------------------------------------------------------ terminal.c: the terminal */

#define MAX_CLIENTS 16                  /* attach connections at once */
#define CLIENT_BUF 8192                 /* the largest frame a client may send */
#define IO_CHUNK 4096
#define RELAY_BUF (64u << 10)           /* the output buffer without `attach-socket` */

struct client {
	int fd, attached, eof;
	uint64_t pos;                   /* the next output byte it gets (an offset in the output) */
	size_t len;                     /* bytes in buf: the start of its next frames */
	char buf[CLIENT_BUF];
};

/* `tty` / `attach-socket` / `console`: the container's terminal */
extern struct terminal {
	long index, attach_index;       /* the ops' indexes; index >= 0: the plan has `tty` */
	unsigned short rows, cols;      /* the current window size */
	int sock, child_sock;           /* the socketpair the master travels over */
	int console_made;               /* (child) `console` done: the slave is fds 0-2 */
	int master, master_eof;         /* (monitor) -1 until it came */
	int in, out;                    /* (monitor) fds 0 and 1, -1 once done with */
	char *ring;                     /* the last `size` bytes of output; total: bytes ever read */
	size_t size;
	uint64_t total, out_pos, seen;  /* seen: the furthest any attach client got */
	char inbuf[IO_CHUNK];           /* input on its way to the master */
	size_t in_off, in_len;
	const char *path;               /* the attach socket */
	int lfd;
	struct client cl[MAX_CLIENTS];  /* fd -1: a free slot */
} tty;
extern long console_index, raw_index;
void check_tty(size_t i, char **a, char *msg, size_t sz);
void check_attach_socket(size_t i, char **a, char *msg, size_t sz);
void check_console(size_t i, char **a, char *msg, size_t sz);
void check_console_raw_output(size_t i, char **a, char *msg, size_t sz);
int op_console(char **a);
int op_console_raw_output(char **a);
int op_ctty(char **a);
int tty_resize(const char *rows, const char *cols);
int tty_setup(void);
void tty_events(struct pollfd *p);
void tty_handle(const struct pollfd *p);
void tty_take_pending(void);
int tty_drained(void);
void tty_close(void);

/* ------------------------------------------------------------------ monitor.c: the monitor */

/* the monitor's poll entries */
enum { P_SIG, P_CTL, P_ERR, P_TTYSOCK, P_MASTER, P_IN, P_OUT, P_LISTEN, P_LOG, P_EV = P_LOG + 2,
       P_CLIENT = P_EV + EVENTS_NFDS,                  /* P_EV: the event log's watches (events.h) */
       P_COUNT = P_CLIENT + MAX_CLIENTS };

/* `log-relay`: the container's fds 1 and 2 are pipes; the monitor copies them to its own fds 1 and 2. */
extern struct log_relay {
	long index;
	int r[2], w[2];                 /* the pipes' ends: read (monitor), write (child) */
	int to[2];                      /* where each goes: the monitor's fds 1 and 2 as Node gave them */
	int socket;                     /* `log-relay socket`: socketpairs, not pipes */
} logr;

/* The container, as the monitor watches it. */
extern struct container {
	pid_t pid;
	int status, reaped, go_w, err_r, sigfd, ctl_open;
	enum { WAIT_GO, RUNNING, DONE } phase;          /* DONE: nothing more to relay */
} ct;

void ctl_send(const char *const *f, size_t n);
void ctl_error(const char *op, long index, int no, const char *path, const char *msg);
long long now_ms(clockid_t clk);
void check_detach(size_t i, char **a, char *msg, size_t sz);
void check_signals_forward(size_t i, char **a, char *msg, size_t sz);
void check_oom_counter(size_t i, char **a, char *msg, size_t sz);
void check_exit_file(size_t i, char **a, char *msg, size_t sz);
void check_log_relay(size_t i, char **a, char *msg, size_t sz);
void check_net_helper(size_t i, char **a, char *msg, size_t sz);
int monitor(void);

#endif
