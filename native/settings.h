/* settings.c: the process settings of Docker's run flags (rlimit, sysctl, workdir) */
#ifndef SETTINGS_H
#define SETTINGS_H
int op_rlimit(char **a);
int op_sysctl(char **a);
int op_workdir(char **a);
#endif
