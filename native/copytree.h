/* copytree.c: `execdriver cp` of directories (and files with their metadata), inside a container's root */
#ifndef COPYTREE_H
#define COPYTREE_H
int copy_stat(char **argv);
int copy_tree(char **argv);
#endif
