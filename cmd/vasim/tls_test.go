package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/tls/tlscase"
	"github.com/vasim/vasim/tsd"
)

func runVasim(t testing.TB, vars map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	e := &env{stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := run(e, args)
	return code, out.String(), errb.String()
}

func TestTLSBadInput(t *testing.T) {
	code, _, stderr := runVasim(t, nil, "tls")
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--exe is required")

	code, _, stderr = runVasim(t, nil, "tls", "--exe", "/nonexistent/prog")
	assert.Equal(t, exitInput, code, "a mistyped program is bad input")
	assert.Contains(t, stderr, "--exe /nonexistent/prog: no such file")

	if _, err := os.Stat("/bin/ls"); err == nil {
		code, _, stderr = runVasim(t, nil, "tls", "--exe", "/bin/ls", "--tunables", "glibc.rtld.nns=99")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "outside 1..16")
		code, _, stderr = runVasim(t, nil, "tls", "--exe", "/bin/ls", "--loader", "solaris")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "solaris")
		code, _, stderr = runVasim(t, map[string]string{"GLIBC_TUNABLES": "glibc.rtld.optional_static_tl=1"}, "tls", "--exe", "/bin/ls", "--glibc", "2.36")
		assert.Equal(t, exitUsage, code, "a GLIBC_TUNABLES typo in the environment is reported")
		assert.Contains(t, stderr, "not a glibc 2.36 tunable")
		// Modelling another release, a name vasim does not know may be
		// real there: a warning, not an error. Bad values stay errors.
		code, stdout, _ := runVasim(t, map[string]string{"GLIBC_TUNABLES": "glibc.mem.decorate_maps=1"}, "tls", "--exe", "/bin/ls", "--glibc", "2.39")
		assert.Equal(t, exitOK, code)
		assert.Contains(t, stdout, `warning: GLIBC_TUNABLES "glibc.mem.decorate_maps=1": not a glibc 2.36 tunable; not checked for glibc 2.39`)
		code, _, stderr = runVasim(t, nil, "tls", "--exe", "/bin/ls", "--glibc", "2.39", "--tunables", "glibc.rtld.nns=0")
		assert.Equal(t, exitUsage, code)
		assert.Contains(t, stderr, "outside 1..16")
		// Musl does not read GLIBC_TUNABLES.
		if cc, err := exec.LookPath("musl-gcc"); err == nil {
			prog, err := objtest.Compile(cc, t.TempDir(), "hello", "int main(void) { return 0; }\n", nil, nil)
			require.NoError(t, err)
			code, _, stderr := runVasim(t, map[string]string{"GLIBC_TUNABLES": "bogus"}, "tls", "--exe", prog)
			assert.Equal(t, exitOK, code, stderr)
		}
	}
}

// TestTLSMalformedFiles: a truncated program or dlopen target that ld.so
// might load but vasim cannot read is bad input (exit 3), reported with
// the file, the part at fault and its offset, never as "not found". A
// --dlopen target ld.so itself refuses (here a linker script) is bad
// input too, reported with ld.so's message
// (TestDlopenOfNonObjectsMatchesGlibc).
func TestTLSMalformedFiles(t *testing.T) {
	const prog = "/bin/ls"
	data, err := os.ReadFile(prog)
	if err != nil {
		t.Skipf("%s: %v", prog, err)
	}
	dir := t.TempDir()
	trunc := filepath.Join(dir, "trunc.so")
	require.NoError(t, os.WriteFile(trunc, data[:3000], 0o644))
	text := filepath.Join(dir, "text.so")
	require.NoError(t, os.WriteFile(text, []byte("INPUT(-lc)\n"), 0o644))
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, data[:100], 0o755))

	code, stdout, stderr := runVasim(t, nil, "tls", "--exe", prog, "--dlopen", trunc)
	assert.Equal(t, exitInput, code, stdout)
	assert.Contains(t, stderr, trunc+": section header table declared by the ELF header")
	assert.Contains(t, stderr, "runs past the end of the file (0xbb8 bytes)")

	code, _, stderr = runVasim(t, nil, "tls", "--exe", prog, "--dlopen", text)
	assert.Equal(t, exitInput, code)
	assert.Contains(t, stderr, "--dlopen "+text+": not a shared library")
	assert.Contains(t, stderr, text+": file too short")

	if gcc, err := exec.LookPath("gcc"); err == nil {
		if st, err := objtest.Compile(gcc, dir, "static", "int main(void) { return 0; }\n", []string{"-static"}, nil); err == nil {
			code, _, stderr = runVasim(t, nil, "tls", "--exe", st, "--glibc", "2.36")
			assert.Equal(t, exitInput, code)
			assert.Contains(t, stderr, "statically linked")
		} else {
			t.Logf("no static libc to link with: %v", err)
		}
	}

	code, _, stderr = runVasim(t, nil, "tls", "--exe", short)
	assert.Equal(t, exitInput, code)
	assert.Equal(t, 1, strings.Count(stderr, short), "the path is named once: %s", stderr)
	assert.Contains(t, stderr, "program header table declared by the ELF header (e_phoff, e_phnum, e_phentsize) at offset 0x20")
}

// buildShim builds the dlopen shim (an LD_PRELOAD library whose
// constructor dlopens each library of the ':'-separated $VASIM_DLOPEN in
// order, writes one outcome line each to $VASIM_OUT and exits before the
// program's main runs) in dir.
func buildShim(t testing.TB, dir string) string {
	return objtest.Shared(t, dir, "libvasimshim.so", `#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
__attribute__((constructor)) static void vasim_shim(void) {
	const char *p = getenv("VASIM_DLOPEN"), *out = getenv("VASIM_OUT");
	if (!p || !out) return;
	FILE *f = fopen(out, "w");
	if (!f) _exit(3);
	char *list = strdup(p), *save = NULL;
	for (char *lib = strtok_r(list, ":", &save); lib; lib = strtok_r(NULL, ":", &save)) {
		void *h = dlopen(lib, RTLD_NOW);
		if (h) fprintf(f, "ok\n"); else fprintf(f, "err %s\n", dlerror());
	}
	fclose(f);
	_exit(0);
}
`, "-ldl")
}

func buildIELib(t *testing.T, dir string, n uint64) string {
	return objtest.Shared(t, dir, fmt.Sprintf("libie%d.so", n), fmt.Sprintf(
		"__thread char block[%d] __attribute__((tls_model(\"initial-exec\")));\nvoid *addr(void) { return &block; }\n", n))
}

// realDlopen runs prog with the shim preloaded so the real loader dlopens
// lib right after start-up; it returns "ok" or "err <dlerror text>".
func realDlopen(t *testing.T, prog, shim, lib, tunables string, env ...string) string {
	outFile := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(prog)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LD_PRELOAD=" + shim, "VASIM_DLOPEN=" + lib, "VASIM_OUT=" + outFile}
	if tunables != "" {
		cmd.Env = append(cmd.Env, "GLIBC_TUNABLES="+tunables)
	}
	cmd.Env = append(cmd.Env, env...)
	o, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s: %s", prog, o)
	b, err := os.ReadFile(outFile)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

type tlsOut struct {
	Schema      string `json:"schema"`
	Outcome     string `json:"outcome"`
	StaticSize  uint64 `json:"static_size"`
	StaticUsed  uint64 `json:"static_used"`
	StaticAlign uint64 `json:"static_align"`
	Surplus     uint64 `json:"surplus"`
	Padding     uint64 `json:"alignment_padding"`
	TCBSize     uint64 `json:"tcb_size"`
	Free        uint64 `json:"free"`
	Dlopen      []struct {
		Path              string      `json:"path"`
		Outcome           string      `json:"outcome"`
		Reason            string      `json:"reason"`
		Message           string      `json:"message"`
		OK                bool        `json:"ok"`
		Error             string      `json:"error"`
		FixTunables       string      `json:"fix_tunables"`
		FixVerified       bool        `json:"fix_verified"`
		OptionalStaticTLS *tlsJSONSet `json:"optional_static_tls"`
	} `json:"dlopen"`
}

func vasimTLS(t *testing.T, env map[string]string, args ...string) (int, tlsOut) {
	code, stdout, stderr := runVasim(t, env, append([]string{"tls", "--json"}, args...)...)
	require.Contains(t, []int{exitOK, exitFailure}, code, "stderr: %s", stderr)
	var o tlsOut
	require.NoError(t, json.Unmarshal([]byte(stdout), &o), stdout)
	return code, o
}

// TestDlopenOfNonObjectsMatchesGlibc: dlopen of a directory, an empty or
// short file, a script, /dev/null or /dev/zero fails in the real glibc
// with one message each ("cannot read file data: Is a directory", "file
// too short", "invalid ELF header"). Given as --dlopen, such a target is
// a wrong path, bad input (exit 3, not the failure a CI gate is for);
// vasim's error carries the real loader's text, as the error document
// under --json.
func TestDlopenOfNonObjectsMatchesGlibc(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs the real glibc x86_64 loader")
	}
	const prog = "/bin/ls"
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("%s: %v", prog, err)
	}
	objtest.RequireCC(t, "gcc")
	dir := t.TempDir()
	shim := buildShim(t, dir)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, data, 0o644))
		return p
	}
	targets := []string{
		filepath.Join(dir, "adir"),
		write("empty.so", nil),
		write("short.so", []byte("\x7fELF\x02\x01\x01")),
		write("script.so", []byte("/* GNU ld script */\nOUTPUT_FORMAT(elf64-x86-64)\nGROUP ( /lib/x86_64-linux-gnu/libc.so.6 )\n")),
		"/dev/null", "/dev/zero",
	}
	require.NoError(t, os.Mkdir(targets[0], 0o755))
	// Executables: glibc refuses both kinds (dl-load.c: "cannot
	// dynamically load executable", "... position-independent
	// executable").
	src := write("main.c", []byte("int main(void) { return 0; }\n"))
	for _, exe := range []struct{ name, flag string }{{"pie", "-pie"}, {"nopie", "-no-pie"}} {
		out := filepath.Join(dir, exe.name)
		cmd := exec.Command("gcc", exe.flag, "-o", out, src)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Logf("gcc %s: %v: %s", exe.flag, err, b)
			continue
		}
		targets = append(targets, out)
	}
	for _, target := range targets {
		if _, err := os.Stat(target); err != nil {
			continue
		}
		real := realDlopen(t, prog, shim, target, "")
		require.True(t, strings.HasPrefix(real, "err "), "%s: the real dlopen: %s", target, real)
		code, stdout, stderr := runVasim(t, nil, "tls", "--json", "--exe", prog, "--dlopen", target)
		assert.Equal(t, exitInput, code, target)
		assert.Contains(t, stderr, fmt.Sprintf("%q", strings.TrimPrefix(real, "err ")), target)
		var doc errorJSON
		require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
		assert.Equal(t, schemaError, doc.Schema)
		assert.Equal(t, "input", doc.Kind)
		assert.Contains(t, doc.Message, "--dlopen "+target+": not a shared library")
		assert.Contains(t, doc.Message, fmt.Sprintf("%q", strings.TrimPrefix(real, "err ")))
	}
}

// TestTLSAgreesWithRealLoaderOnRealPrograms: for real programs installed
// here, vasim predicts the largest initial-exec TLS block each can still
// dlopen (N = the free bytes after start-up); a library with an N-byte
// block must load and one with N+1 bytes must fail with glibc's message,
// both in vasim and in the real process. The fix vasim suggests for N+1
// must work for real, and one byte less must not.
func TestTLSAgreesWithRealLoaderOnRealPrograms(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs the real glibc x86_64 loader")
	}
	objtest.RequireCC(t, "gcc")
	dir := t.TempDir()
	shim := buildShim(t, dir)
	var progs []string
	for _, p := range []string{"/usr/bin/python3", "/bin/ls", "/usr/bin/perl", "/usr/bin/gdb", "/usr/bin/git"} {
		if _, err := os.Stat(p); err == nil {
			progs = append(progs, p)
		}
	}
	if len(progs) == 0 {
		t.Skip("none of the sample programs is installed")
	}
	env := map[string]string{"LD_PRELOAD": shim}
	for _, prog := range progs {
		t.Run(filepath.Base(prog), func(t *testing.T) {
			_, base := vasimTLS(t, env, "--exe", prog)
			n := base.Free
			require.Greater(t, n, uint64(0))
			libN, libN1 := buildIELib(t, dir, n), buildIELib(t, dir, n+1)

			code, o := vasimTLS(t, env, "--exe", prog, "--dlopen", libN)
			assert.Equal(t, exitOK, code)
			require.Len(t, o.Dlopen, 1)
			assert.True(t, o.Dlopen[0].OK)
			assert.Equal(t, "ok", realDlopen(t, prog, shim, libN, ""), "real loader, %d-byte IE block", n)

			code, o = vasimTLS(t, env, "--exe", prog, "--dlopen", libN1)
			assert.Equal(t, exitFailure, code)
			require.Len(t, o.Dlopen, 1)
			want := libN1 + ": cannot allocate memory in static TLS block"
			assert.Equal(t, want, o.Dlopen[0].Error)
			assert.Equal(t, "err "+want, realDlopen(t, prog, shim, libN1, ""), "real loader, %d-byte IE block", n+1)

			// The suggested fix, checked for real, and one byte less: an
			// initial-exec block alone leaves no gap below the value from
			// which every value works.
			fix := o.Dlopen[0].FixTunables
			require.True(t, strings.HasPrefix(fix, "glibc.rtld.optional_static_tls="), fix)
			var v uint64
			_, err := fmt.Sscanf(fix, "glibc.rtld.optional_static_tls=%d", &v)
			require.NoError(t, err)
			set := o.Dlopen[0].OptionalStaticTLS
			require.NotNil(t, set)
			require.NotNil(t, set.WorksFrom)
			assert.Equal(t, v, *set.WorksFrom)
			assert.Empty(t, set.AlsoWorks)
			assert.True(t, o.Dlopen[0].FixVerified)
			assert.Equal(t, "ok", realDlopen(t, prog, shim, libN1, fix))
			assert.Equal(t, "err "+want, realDlopen(t, prog, shim, libN1, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", v-1)))
			assert.Equal(t, "ok", realDlopen(t, prog, shim, libN1, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", v+1000)), "rounding up keeps working")
			t.Logf("%s: static size %d, used %d, largest IE block %d bytes; fix for %d: %s", prog, base.StaticSize, base.StaticUsed, n, n+1, fix)
		})
	}
}

// TestTLSAuditAgreesWithRealLoader: under LD_AUDIT, ld.so lays out only
// the main program at start-up, loads each audit module (with its own
// copy of libc when it links libc) into a namespace of its own, and only
// then relocates the program's libraries, all out of a surplus 288 bytes
// larger per audit module. vasim must find the same largest
// initial-exec block the real loader can still dlopen, for an audit
// module with and without a libc dependency.
func TestTLSAuditAgreesWithRealLoader(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs the real glibc x86_64 loader")
	}
	objtest.RequireCC(t, "gcc")
	const prog = "/bin/ls"
	if _, err := os.Stat(prog); err != nil {
		t.Skipf("%s: %v", prog, err)
	}
	dir := t.TempDir()
	shim := buildShim(t, dir)
	const auditSrc = "unsigned int la_version(unsigned int v) { return v; }\n"
	withLibc := objtest.Shared(t, dir, "audit-libc.so", auditSrc, "-Wl,--no-as-needed", "-lc")
	noLibc, err := objtest.Compile("gcc", dir, "audit-nolibc.so", auditSrc, []string{"-shared", "-fPIC", "-nostdlib"}, nil)
	require.NoError(t, err)
	free := map[string]uint64{}
	for _, audit := range []string{withLibc, noLibc} {
		t.Run(filepath.Base(audit), func(t *testing.T) {
			env := map[string]string{"LD_PRELOAD": shim, "LD_AUDIT": audit}
			_, base := vasimTLS(t, env, "--exe", prog)
			n := base.Free
			free[audit] = n
			libN, libN1 := buildIELib(t, dir, n), buildIELib(t, dir, n+1)
			code, o := vasimTLS(t, env, "--exe", prog, "--dlopen", libN)
			assert.Equal(t, exitOK, code)
			assert.True(t, o.Dlopen[0].OK)
			assert.Equal(t, "ok", realDlopen(t, prog, shim, libN, "", "LD_AUDIT="+audit), "real loader, %d-byte IE block", n)
			code, o = vasimTLS(t, env, "--exe", prog, "--dlopen", libN1)
			assert.Equal(t, exitFailure, code)
			want := libN1 + ": cannot allocate memory in static TLS block"
			assert.Equal(t, want, o.Dlopen[0].Error)
			assert.Equal(t, "err "+want, realDlopen(t, prog, shim, libN1, "", "LD_AUDIT="+audit), "real loader, %d-byte IE block", n+1)
		})
	}
	// The audit module's own libc takes libc's block (144 bytes on Debian
	// 2.36) and its alignment slack out of the surplus.
	assert.Greater(t, free[noLibc], free[withLibc])
}

// TestTLSNotFoundJSON: a --dlopen name that is not found is a mistyped
// path: bad input (exit 3), never the failure a CI gate is for; under
// --json the error document says so with glibc's message. A dependency of
// the dlopened library that is missing is the program's own failure
// (exit 1), with no static TLS byte counts.
func TestTLSNotFoundJSON(t *testing.T) {
	if _, err := os.Stat("/bin/ls"); err != nil {
		t.Skip("no /bin/ls")
	}
	code, stdout, _ := runVasim(t, nil, "tls", "--json", "--exe", "/bin/ls", "--dlopen", "libvasim-nope.so.1")
	assert.Equal(t, exitInput, code)
	var doc errorJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &doc), stdout)
	assert.Equal(t, errorJSON{Schema: schemaError, Command: "tls", Exit: exitInput, Kind: "input", Message: doc.Message}, doc)
	assert.Contains(t, doc.Message, "--dlopen libvasim-nope.so.1: not found")
	assert.Contains(t, doc.Message, "libvasim-nope.so.1: cannot open shared object file: No such file or directory")

	objtest.RequireCC(t, "gcc")
	dir := t.TempDir()
	gone := objtest.Shared(t, dir, "libvasimgone.so", "int g(void) { return 0; }\n")
	lib := objtest.Shared(t, dir, "libneeds.so", "int f(void) { return 0; }\n", "-Wl,--no-as-needed", gone)
	require.NoError(t, os.Remove(gone))
	code, stdout, _ = runVasim(t, nil, "tls", "--json", "--exe", "/bin/ls", "--dlopen", lib)
	assert.Equal(t, exitFailure, code, stdout)
	var o map[string]any
	require.NoError(t, json.Unmarshal([]byte(stdout), &o))
	for _, k := range []string{"static_size", "static_used", "surplus", "dlopen"} {
		assert.Contains(t, o, k)
	}
	d := o["dlopen"].([]any)[0].(map[string]any)
	assert.Equal(t, gone+": cannot open shared object file: No such file or directory", d["message"])
	assert.Equal(t, "not-found", d["reason"])
	assert.Equal(t, "fails", d["outcome"])
	assert.NotContains(t, d, "bytes_free")
	assert.NotContains(t, d, "preload_fixes")
}

// Audit modules ld.so cannot load are reported with glibc's reason
// (elf/rtld.c: "cannot be loaded as audit interface: invalid ELF header;
// ignored."), and a sysroot's truncated libc.so.6 is named with what is
// wrong with it, not as missing.
func TestTLSUnloadableAuditAndTruncatedLibc(t *testing.T) {
	exe := objtest.Program(t, t.TempDir(), "app", "int main(void) { return 0; }\n", nil)
	code, out, errs := runVasim(t, map[string]string{"LD_AUDIT": "/dev/zero:" + t.TempDir()}, "tls", "--exe", exe)
	require.Equal(t, exitOK, code, errs)
	assert.Contains(t, out, "object '/dev/zero' cannot be loaded as audit interface: invalid ELF header")
	assert.Contains(t, out, "cannot be loaded as audit interface: cannot read file data")

	root := t.TempDir()
	for _, d := range []string{"app", "lib64", "lib/x86_64-linux-gnu"} {
		require.NoError(t, os.MkdirAll(filepath.Join(root, d), 0o755))
	}
	copyFile := func(from, to string, limit int64) {
		data, err := os.ReadFile(from)
		require.NoError(t, err)
		if limit > 0 {
			data = data[:limit]
		}
		require.NoError(t, os.WriteFile(filepath.Join(root, to), data, 0o755))
	}
	copyFile(exe, "app/app", 0)
	interp, err := filepath.EvalSymlinks("/lib64/ld-linux-x86-64.so.2")
	if err != nil {
		t.Skip("no x86_64 glibc loader here")
	}
	copyFile(interp, "lib64/ld-linux-x86-64.so.2", 0)
	copyFile("/lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libc.so.6", 1000)
	code, _, errs = runVasim(t, nil, "tls", "--exe", "/app/app", "--sysroot", root)
	require.NotEqual(t, exitOK, code)
	assert.Contains(t, errs, "libc.so.6: ")
	assert.Contains(t, errs, "runs past the end of the file")
	assert.NotContains(t, errs, "No such file")
}

// TestTSDDocument: vasim tsd reports the scenario it ran under its own
// name; its document has [] for empty lists, instances in the form
// --file reads, and counts keyed by every kind's snake_case code, which
// is also each event's "kind"; every key is named in vasim help json.
func TestTSDDocument(t *testing.T) {
	for _, name := range tsd.ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runVasim(t, nil, "tsd", "--scenario", name, "--json")
			require.Contains(t, []int{exitOK, exitFailure}, code, stderr)
			var o struct {
				Scenario  string                       `json:"scenario"`
				Instances []map[string]json.RawMessage `json:"instances"`
				Failures  int                          `json:"failures"`
				Counts    map[string]int               `json:"counts"`
				Culprits  []string                     `json:"culprits"`
				Events    []map[string]json.RawMessage `json:"events"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &o), stdout)
			assert.Equal(t, name, o.Scenario)
			_, text, _ := runVasim(t, nil, "tsd", "--scenario", name)
			assert.True(t, strings.HasPrefix(text, name+" on "), text)

			var top map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(stdout), &top))
			for k, v := range top {
				assert.Contains(t, jsonHelp, `"`+k+`"`, "vasim help json does not name %q", k)
				assert.NotEqual(t, "null", string(v), "%s is null", k)
			}
			for _, m := range append(o.Instances, o.Events...) {
				for k := range m {
					assert.Contains(t, jsonHelp, `"`+k+`"`, "vasim help json does not name %q", k)
				}
			}

			// Counts: every kind, snake_case, adding up to the events.
			require.Len(t, o.Counts, len(tsd.EventKinds()))
			total, failures := 0, 0
			for k, n := range o.Counts {
				assert.Regexp(t, `^[a-z]+(_[a-z]+)*$`, k)
				assert.Contains(t, jsonHelp, k, "vasim help json does not name the kind %q", k)
				total += n
			}
			for _, ev := range o.Events {
				var kind string
				var failure bool
				require.NoError(t, json.Unmarshal(ev["kind"], &kind))
				require.NoError(t, json.Unmarshal(ev["failure"], &failure))
				assert.Contains(t, o.Counts, kind)
				if failure {
					failures++
				}
			}
			assert.Equal(t, len(o.Events), total)
			assert.Equal(t, failures, o.Failures)
			assert.Equal(t, o.Failures > 0, code == exitFailure)
			assert.Equal(t, o.Failures == 0, len(o.Culprits) == 0)

			// The instances read back as a --file document's.
			insts, err := json.Marshal(o.Instances)
			require.NoError(t, err)
			sc, err := tsd.ParseScenario([]byte(`{"instances": `+string(insts)+`}`), "back.json")
			require.NoError(t, err)
			want := tsd.Scenarios()[name]().Instances
			require.Len(t, sc.Instances, len(want))
			for i, in := range want {
				assert.Equal(t, in.Name, sc.Instances[i].Name)
				assert.Equal(t, in.Model, sc.Instances[i].Model)
				assert.Equal(t, in.Override, sc.Instances[i].Override)
				if in.Model == tsd.FixedSlot {
					assert.Equal(t, in.Slots, sc.Instances[i].Slots)
				}
				if in.Model == tsd.ThreadLocal {
					assert.Equal(t, in.RecurseGuard, sc.Instances[i].RecurseGuard)
				}
			}
		})
	}

	// No failure: the lists are empty, not null.
	code, stdout, _ := runVasim(t, nil, "tsd", "--scenario", "two-napi-addons-thread-local", "--json")
	require.Equal(t, exitOK, code)
	assert.Contains(t, stdout, `"culprits": []`)
	assert.Contains(t, stdout, `"events": []`)
	assert.Contains(t, stdout, `"name": "addon-a.node",`+"\n"+`      "model": "thread-local"`)
	assert.Contains(t, stdout, `"reserved_slot": 0`)
	assert.NotContains(t, stdout, `"reserved slot"`)
}

// TestTSDHelpSaysExitStatus: vasim tsd -h says that a predicted failure
// exits 1.
func TestTSDHelpSaysExitStatus(t *testing.T) {
	code, help, _ := runVasim(t, nil, "tsd", "-h")
	require.Equal(t, exitOK, code)
	assert.Contains(t, help, "exit 1")
	assert.Contains(t, help, "exit 0")
}

// TestTLSCaseStaticBlock: the static block of vasim/tls-case/v1 has every
// field of vasim/tls/v1's, static_align included, and its figures add up;
// every key is named in vasim help json.
func TestTLSCaseStaticBlock(t *testing.T) {
	static := []string{"static_size", "static_align", "static_used", "surplus", "alignment_padding", "tcb_size", "optional_left", "free"}
	for _, k := range static {
		assert.Contains(t, jsonHelp[strings.Index(jsonHelp, "vasim/tls/v1 "):strings.Index(jsonHelp, "vasim/tls-case/v1")], k, "vasim/tls/v1's static block has %s", k)
	}
	for _, name := range tlscase.Names() {
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := runVasim(t, nil, "tls", "--scenario", name, "--json")
			require.Contains(t, []int{exitOK, exitFailure}, code, stderr)
			var top map[string]json.RawMessage
			require.NoError(t, json.Unmarshal([]byte(stdout), &top), stdout)
			doc := jsonHelp[strings.Index(jsonHelp, "vasim/tls-case/v1"):strings.Index(jsonHelp, "vasim/tls-pages/v1")]
			for k := range top {
				if k != "schema" {
					assert.Contains(t, doc, `"`+k+`"`, "the vasim/tls-case/v1 help does not name %q", k)
				}
			}
			var o struct {
				StartError string `json:"start_error"`
				Arch       string `json:"arch"`
			}
			require.NoError(t, json.Unmarshal([]byte(stdout), &o))
			n := map[string]uint64{}
			for _, k := range static {
				require.Contains(t, top, k)
				var v uint64
				require.NoError(t, json.Unmarshal(top[k], &v), k)
				n[k] = v
			}
			if o.StartError != "" {
				for _, k := range static {
					assert.Zero(t, n[k], k)
				}
				return
			}
			assert.Positive(t, n["static_align"])
			assert.Equal(t, n["static_size"], n["static_used"]+n["surplus"]+n["alignment_padding"]+n["tcb_size"])
			assert.Equal(t, n["free"], n["surplus"]+n["alignment_padding"])
			assert.LessOrEqual(t, n["optional_left"], n["surplus"])
			if o.Arch == "x86_64" {
				assert.Zero(t, (n["static_used"]+n["surplus"]+n["alignment_padding"])%n["static_align"], "the padding rounds to the alignment")
			}
		})
	}
}
