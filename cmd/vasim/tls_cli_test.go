package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vasim/vasim/loader/ldso"
	"github.com/vasim/vasim/loader/objtest"
)

// TestTLSCommandsHelp: -h of tls, tls pages and tsd prints a usage that
// names every flag the command takes, and a worked example; it exits 0.
func TestTLSCommandsHelp(t *testing.T) {
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, cmd := range [][]string{{"tls"}, {"tls", "pages"}, {"tsd"}} {
		t.Run(strings.Join(cmd, " "), func(t *testing.T) {
			code, help, _ := runVasim(t, nil, append(cmd, "-h")...)
			require.Equal(t, exitOK, code)
			usage, rest, ok := strings.Cut(help, "\n\n")
			require.True(t, ok, help)
			require.True(t, strings.HasPrefix(usage, "Usage: vasim "+strings.Join(cmd, " ")), usage)
			flags := flagLine.FindAllStringSubmatch(rest, -1)
			require.NotEmpty(t, flags, help)
			for _, f := range flags {
				assert.Contains(t, usage, "--"+f[1], "the usage names every flag")
			}
			assert.Contains(t, rest, "\nExample:\n  vasim "+strings.Join(cmd, " "))
			assert.NotContains(t, help, "MacOS", "a summary that starts with a brand keeps its case")
		})
	}
}

// TestTLSCommandsExitStatus: one exit-status scheme for tls, tls pages
// and tsd: 2 for a bad command line, 3 for bad input (a mistyped path
// above all), 1 for a predicted failure, 0 otherwise; under --json every
// error is also an error document on standard output.
func TestTLSCommandsExitStatus(t *testing.T) {
	for _, c := range []struct {
		args []string
		want int
		msg  string
	}{
		{[]string{"tls"}, exitUsage, "--exe is required"},
		{[]string{"tls", "--exe", "/bin/ls", "--bogus"}, exitUsage, "flag provided but not defined: -bogus"},
		{[]string{"tls", "--exe", "/bin/ls", "stray"}, exitUsage, `unexpected argument "stray"`},
		{[]string{"tls", "--exe", "/bin/ls", "--loader", "solaris"}, exitUsage, `loader "solaris"`},
		{[]string{"tls", "--exe", "/bin/ls", "--glibc", "two"}, exitUsage, "glibc version"},
		{[]string{"tls", "--exe", "/bin/ls", "--tunables", "glibc.rtld.nns=99"}, exitUsage, "outside 1..16"},
		{[]string{"tls", "--scenario", "cef-119-x64", "--exe", "/bin/ls"}, exitUsage, "give one of"},
		{[]string{"tls", "--scenario", "cef-119-x64", "--tunables", "glibc.rtld.nns=5"}, exitUsage, "--tunables applies to --exe"},
		{[]string{"tls", "--scenario", "no-such-case"}, exitUsage, `--scenario "no-such-case"`},
		{[]string{"tls", "--exe", "/nonexistent/prog"}, exitInput, "--exe /nonexistent/prog: no such file"},
		{[]string{"tls", "--exe", "/bin/ls", "--dlopen", "/nonexistent/libfoo.so"}, exitInput, "--dlopen /nonexistent/libfoo.so: not found"},
		{[]string{"tls", "--exe", "/bin/ls", "--dlopen", "libvasim-typo.so.1"}, exitInput, "--dlopen libvasim-typo.so.1: not found"},
		{[]string{"tls", "--case", "/nonexistent/case.json"}, exitInput, "--case /nonexistent/case.json: no such file"},
		{[]string{"tls", "--scenario", "cef-119-x64"}, exitFailure, ""},
		{[]string{"tls", "pages", "--exe", "/usr/bin/true", "--probe", "x"}, exitUsage, `--probe "x"`},
		{[]string{"tls", "pages", "--exe", "/usr/bin/true", "--no-aslr", "--seed", "1"}, exitUsage, "exclude each other"},
		{[]string{"tls", "pages", "--exe", "/nonexistent/prog"}, exitInput, "/nonexistent/prog"},
		{[]string{"tsd", "--model", "magic"}, exitUsage, `model "magic"`},
		{[]string{"tsd", "--scenario", "nope"}, exitUsage, `--scenario "nope"`},
		{[]string{"tsd", "--file", "/nonexistent/sc.json"}, exitInput, "--file /nonexistent/sc.json: no such file"},
		{[]string{"tsd", "--scenario", "two-napi-addons", "--file", "/nonexistent/sc.json"}, exitUsage, "not both"},
		{[]string{"tsd"}, exitFailure, ""},
		{[]string{"tsd", "--model", "thread-local"}, exitOK, ""},
	} {
		if strings.Contains(strings.Join(c.args, " "), "/bin/ls") {
			if _, err := os.Stat("/bin/ls"); err != nil {
				continue
			}
		}
		name := strings.Join(c.args, " ")
		code, _, stderr := runVasim(t, nil, c.args...)
		assert.Equal(t, c.want, code, "%s: %s", name, stderr)
		if c.msg != "" {
			assert.Contains(t, stderr, c.msg, name)
		}
		if c.want != exitUsage && c.want != exitInput {
			continue
		}
		// The same under --json: the error document on stdout.
		code, stdout, _ := runVasim(t, nil, append(c.args, "--json")...)
		assert.Equal(t, c.want, code, "%s --json", name)
		var doc errorJSON
		if assert.NoError(t, json.Unmarshal([]byte(stdout), &doc), "%s --json: %s", name, stdout) {
			assert.Equal(t, schemaError, doc.Schema, name)
			assert.Equal(t, c.want, doc.Exit, name)
			assert.Equal(t, exitNames[c.want], doc.Kind, name)
			assert.Contains(t, doc.Message, c.msg, name)
		}
	}
}

// TestTLSCommandsSchemaFirst: every document of tls, tls --scenario, tls
// pages and tsd names its schema in its first field.
func TestTLSCommandsSchemaFirst(t *testing.T) {
	runs := [][]string{
		{"tls", "--scenario", "cef-119-x64", "--json"},
		{"tls", "--scenario", "libgomp-aarch64-glibc-2.27", "--json"},
		{"tsd", "--json"},
	}
	want := []string{schemaTLSCase, schemaTLSCase, schemaTSD}
	if _, err := os.Stat("/bin/ls"); err == nil {
		runs = append(runs, []string{"tls", "--exe", "/bin/ls", "--json"})
		want = append(want, schemaTLS)
	}
	if _, err := os.Stat("/usr/bin/true"); err == nil && runtime.GOOS == "linux" {
		runs = append(runs, []string{"tls", "pages", "--exe", "/usr/bin/true", "--no-aslr", "--json"})
		want = append(want, schemaTLSPages)
	}
	for i, args := range runs {
		_, stdout, stderr := runVasim(t, nil, args...)
		require.True(t, strings.HasPrefix(stdout, "{\n  \"schema\": "), "%v: %s %s", args, stdout, stderr)
		var doc struct {
			Schema string `json:"schema"`
		}
		require.NoError(t, json.Unmarshal([]byte(stdout), &doc))
		assert.Equal(t, want[i], doc.Schema, "%v", args)
	}
}

// TestTLSTextAddsUp: the text output's static TLS figures add up as the
// words say, and agree with the JSON document: size = used + surplus +
// padding + TCB, free = surplus + padding; a placed block takes its size
// plus its padding; the room after it is what was free less that.
func TestTLSTextAddsUp(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("reads this machine's x86_64 glibc")
	}
	objtest.RequireCC(t, "gcc")
	dir := t.TempDir()
	prog := objtest.Program(t, dir, "host", "int main(void) { return 0; }\n", nil)
	lib := buildIELib(t, dir, 136)
	_, text, errs := runVasim(t, nil, "tls", "--exe", prog, "--dlopen", lib)
	_, o := vasimTLS(t, nil, "--exe", prog, "--dlopen", lib)
	num := func(re string) []uint64 {
		m := regexp.MustCompile(re).FindStringSubmatch(text)
		require.NotNil(t, m, "%s in:\n%s%s", re, text, errs)
		var out []uint64
		for _, s := range m[1:] {
			n, err := strconv.ParseUint(s, 10, 64)
			require.NoError(t, err)
			out = append(out, n)
		}
		return out
	}
	st := num(`Static TLS per thread: (\d+) bytes = (\d+) used by the start-up modules' blocks \+ (\d+) surplus \+ (\d+) padding \(to a multiple of the (\d+)-byte alignment\) \+ (\d+) for the thread control block`)
	assert.Equal(t, st[0], st[1]+st[2]+st[3]+st[5])
	assert.Equal(t, []uint64{o.StaticSize, o.StaticUsed, o.Surplus, o.Padding, o.StaticAlign, o.TCBSize}, st)
	assert.Zero(t, (st[1]+st[2]+st[3])%st[4], "the padding rounds to the alignment")
	free := num(`Free for libraries dlopened later: (\d+) bytes = (\d+) surplus \+ (\d+) padding`)
	assert.Equal(t, free[0], free[1]+free[2])
	assert.Equal(t, o.Free, free[0])
	placed := num(`(\d+)-byte initial-exec block placed at tp-(\d+), taking (\d+) bytes \((\d+) \+ (\d+) padding to align it\)`)
	assert.Equal(t, uint64(136), placed[0])
	assert.Equal(t, placed[2], placed[3]+placed[4])
	assert.Equal(t, st[1]+placed[2], placed[1], "the block ends where the start-up blocks end, its padding below it")
	after := num(`\n  (\d+) bytes free after it`)
	assert.Equal(t, free[0]-placed[2], after[0])
	assert.NotContains(t, text, "TLS descriptors may take", "words a user knows")
}

// TestTLSDescriptorGap: a program that dlopens a library whose 400-byte
// block is reached through TLS descriptors and then one with a 1505-byte
// initial-exec block. glibc moves the descriptor block into static TLS
// only when the optional budget holds it, and then the initial-exec block
// no longer fits: the values of glibc.rtld.optional_static_tls that work
// have a gap. vasim reports them as a set, suggests the least value from
// which every value works, and the real glibc agrees at the ends of every
// range and inside the gap.
func TestTLSDescriptorGap(t *testing.T) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("needs the real glibc x86_64 loader")
	}
	objtest.RequireCC(t, "gcc")
	if det, err := ldso.DetectGlibcVersion("/lib/x86_64-linux-gnu/libc.so.6"); err != nil || !det.Version.AtLeast(2, 34) {
		t.Skip("needs glibc 2.34 or later here (TLS descriptors resolved at dlopen)")
	}
	dir := t.TempDir()
	shim := buildShim(t, dir)
	prog := objtest.Program(t, dir, "host", "int main(void) { return 0; }\n", nil)
	desc := objtest.Shared(t, dir, "libdesc.so", "__thread char d[400] __attribute__((aligned(16))) = {1};\nint touch_d(void) { return d[399]; }\n", "-mtls-dialect=gnu2")
	ie := objtest.Shared(t, dir, "libie.so", "__thread char v[1505] __attribute__((aligned(16), tls_model(\"initial-exec\"))) = {1};\nint touch_v(void) { return v[1504]; }\n")
	env := map[string]string{"LD_PRELOAD": shim}
	code, o := vasimTLS(t, env, "--exe", prog, "--dlopen", desc, "--dlopen", ie)
	require.Equal(t, exitFailure, code)
	require.Len(t, o.Dlopen, 2)
	require.Equal(t, "fits", o.Dlopen[0].Outcome)
	d := o.Dlopen[1]
	require.Equal(t, "fails", d.Outcome)
	assert.Equal(t, "static-tls-exhausted", d.Reason)
	set := d.OptionalStaticTLS
	require.NotNil(t, set)
	require.NotNil(t, set.WorksFrom)
	require.NotEmpty(t, set.AlsoWorks, "the descriptor block opens a gap")
	assert.Equal(t, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", *set.WorksFrom), d.FixTunables, "the suggestion holds when rounded up")
	assert.True(t, d.FixVerified)
	assert.Less(t, *set.Smallest, *set.WorksFrom)
	assert.LessOrEqual(t, set.ModelRuns, 8)

	_, text, _ := runVasim(t, env, "tls", "--exe", prog, "--dlopen", desc, "--dlopen", ie)
	assert.Contains(t, text, fmt.Sprintf("GLIBC_TUNABLES=glibc.rtld.optional_static_tls=%d (now 512; %d or any larger value works; %d..%d also work", *set.WorksFrom, *set.WorksFrom, set.AlsoWorks[0][0], set.AlsoWorks[0][1]))
	assert.Contains(t, text, "rounding a value up from")

	real := func(v uint64) bool {
		out := realDlopen(t, prog, shim, desc+":"+ie, fmt.Sprintf("glibc.rtld.optional_static_tls=%d", v))
		return out == "ok\nok"
	}
	contains := func(v uint64) bool {
		if v >= *set.WorksFrom {
			return true
		}
		for _, r := range set.AlsoWorks {
			if r[0] <= v && v <= r[1] {
				return true
			}
		}
		return false
	}
	points := []uint64{512, *set.WorksFrom, *set.WorksFrom - 1, *set.WorksFrom + 4096}
	for _, r := range append(append([][2]uint64{}, set.AlsoWorks...), set.Fails...) {
		points = append(points, r[0], r[1], r[0]+(r[1]-r[0])/2)
	}
	for _, v := range points {
		assert.Equal(t, contains(v), real(v), "optional_static_tls=%d: the real glibc against the set %+v", v, set)
	}
}
