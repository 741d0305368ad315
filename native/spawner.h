/* The spawner (spawner.c): monitors forked from a small process Node keeps, not from Node. */
#ifndef EXECDRIVER_SPAWNER_H
#define EXECDRIVER_SPAWNER_H
/* `execdriver-init spawner`; MODE is argv[1], rewritten to "monitor" in each monitor it forks */
int spawner(char *mode);
#endif
