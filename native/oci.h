/* The OCI runtime's ops (oci.c): the exec fifo of create/start, domainname, personality, the console socket. */
#ifndef EXECDRIVER_OCI_H
#define EXECDRIVER_OCI_H

int op_exec_fifo(char **a);
int op_exec_wait(char **a);
int op_setdomainname(char **a);
int op_personality(char **a);
void check_console_socket(size_t i, char **a, char *msg, size_t sz);
/* (monitor) with `console-socket`: send the terminal's master there; 1 sent (the caller closes its copy), 0 none asked, -1 failed */
int oci_send_console(int master);
void check_mkfifo(size_t i, char **a, char *msg, size_t sz);
/* (monitor, before the clone) every `mkfifo` of the plan made; -1 with errno, *INDEX and *PATH of the one that failed */
int oci_make_fifos(long *index, const char **path);
void check_leave(size_t i, char **a, char *msg, size_t sz);
/* (monitor) with `leave`: 1 once the container is created (the monitor then exits, the init reparented) */
int oci_leave(void);

#endif
