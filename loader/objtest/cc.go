// Package objtest builds object files for tests of vasim's readers and
// models: shared objects and programs compiled by the host's C compiler
// (to run under the real loader), and synthetic ELF and Mach-O files
// written byte by byte (for the readers' edge cases and as fuzz seeds).
package objtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequireCC returns the path of the C compiler name ("gcc", or a cross
// compiler such as "aarch64-linux-gnu-gcc"), or skips the test saying
// what is missing.
func RequireCC(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (the test builds objects with it): %v", name, err)
	}
	return p
}

// Compile writes src to dir/name.c and compiles it with cc into
// dir/name, passing args before the source (-shared -fPIC, -static, ...)
// and libs after it (-L..., -lfoo). It returns the output's path, or an
// error with the compiler's output. It is safe to call from several
// goroutines.
func Compile(cc, dir, name, src string, args, libs []string) (string, error) {
	c := filepath.Join(dir, name+".c")
	if err := os.WriteFile(c, []byte(src), 0o644); err != nil {
		return "", err
	}
	out := filepath.Join(dir, name)
	argv := append(append(append([]string{}, args...), "-o", out, c), libs...)
	if b, err := exec.Command(cc, argv...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %v: %v: %s", cc, argv, err, b)
	}
	return out, nil
}

// Shared builds src into the shared object dir/name with gcc (-shared
// -fPIC -O1) and libs, failing the test on error. It skips the test when
// gcc is missing.
func Shared(t testing.TB, dir, name, src string, libs ...string) string {
	t.Helper()
	out, err := Compile(RequireCC(t, "gcc"), dir, name, src, []string{"-shared", "-fPIC", "-O1"}, libs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Program builds src into the executable dir/name with gcc (-O1, and
// args such as -static or -no-pie) and libs, failing the test on error.
// It skips the test when gcc is missing.
func Program(t testing.TB, dir, name, src string, args []string, libs ...string) string {
	t.Helper()
	out, err := Compile(RequireCC(t, "gcc"), dir, name, src, append([]string{"-O1"}, args...), libs)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// EntryTracerSrc is a C program that starts the program it is given with
// randomisation off (personality ADDR_NO_RANDOMIZE, as setarch -R), stops
// it under ptrace at its entry point (after the kernel and ld.so, and the
// libraries' constructors, before the program's own code) and prints its
// /proc/PID/maps: the quickest way to read a real program's layout.
const EntryTracerSrc = `#define _GNU_SOURCE
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <sys/personality.h>
#include <elf.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
extern char **environ;
int main(int argc, char **argv) {
	pid_t pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		if (personality(ADDR_NO_RANDOMIZE) == -1) _exit(126);
		execve(argv[1], argv + 1, environ);
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) return 1;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/auxv", pid);
	int fd = open(path, O_RDONLY);
	Elf64_auxv_t av[64];
	ssize_t n = read(fd, av, sizeof av);
	close(fd);
	unsigned long entry = 0;
	for (int i = 0; i < n / (ssize_t)sizeof av[0]; i++)
		if (av[i].a_type == AT_ENTRY) entry = av[i].a_un.a_val;
	long word = ptrace(PTRACE_PEEKTEXT, pid, entry, 0);
	ptrace(PTRACE_POKETEXT, pid, entry, (word & ~0xffL) | 0xcc);
	ptrace(PTRACE_CONT, pid, 0, 0);
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st) || WSTOPSIG(st) != SIGTRAP) { kill(pid, SIGKILL); return 2; }
	snprintf(path, sizeof path, "/proc/%d/maps", pid);
	FILE *f = fopen(path, "r");
	char line[8192];
	while (fgets(line, sizeof line, f)) fputs(line, stdout);
	kill(pid, SIGKILL);
	return 0;
}
`

// MapsPrinterSrc is a C program that prints its own /proc/self/maps as
// main starts, reading and writing with system calls from a static
// buffer so that printing maps nothing new.
const MapsPrinterSrc = `#include <fcntl.h>
#include <unistd.h>
static char buf[1 << 16];
int main(void) {
	int fd = open("/proc/self/maps", O_RDONLY);
	ssize_t n, t = 0;
	while ((n = read(fd, buf + t, sizeof buf - t)) > 0) t += n;
	write(1, buf, t);
	return 0;
}
`
