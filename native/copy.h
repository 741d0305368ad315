/* copy.c: execdriver cp's two halves, resolved inside a container's root */
#ifndef COPY_H
#define COPY_H
int copy_out(char **argv);
int copy_in(char **argv);
#endif
