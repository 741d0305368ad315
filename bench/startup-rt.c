/* startup-rt: run a command (stdin and stdout /dev/null), print its wall time, the CPU time of it and
 * every child it waited for (ms), and its peak RSS (KiB). Used by bench/startup-harness.mjs. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/wait.h>
#include <sys/resource.h>
int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: startup-rt CMD [ARG...]\n"); return 2; }
  struct timespec a, b; struct rusage ru; int st;
  clock_gettime(CLOCK_MONOTONIC, &a);
  pid_t p = fork();
  if (p == 0) { int fd = open("/dev/null", O_RDWR); dup2(fd, 0); dup2(fd, 1); execvp(argv[1], argv + 1); _exit(127); }
  wait4(p, &st, 0, &ru);
  clock_gettime(CLOCK_MONOTONIC, &b);
  double wall = (b.tv_sec - a.tv_sec) * 1e3 + (b.tv_nsec - a.tv_nsec) / 1e6;
  double cpu = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
  printf("%.3f %.3f %ld\n", wall, cpu, ru.ru_maxrss);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
