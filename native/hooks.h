/* execdriver-oci's hooks that run inside the container (createContainer, startContainer): native/hooks.c */
#ifndef EXECDRIVER_HOOKS_H
#define EXECDRIVER_HOOKS_H

int op_hook_state(char **a);
int op_hook(char **a);

#endif
