package tls

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/vasim/vasim/loader/objtest"
	"github.com/vasim/vasim/vaspace"
)

// TestInitialThreadBlockMatchesRealProcess reads, in a real process, the
// thread pointer and the pointer glibc saves right after the TCB (the
// minimal-malloc result p, x86_64 tcb_to_pointer_to_free_location), and
// checks that the model places tp exactly where glibc did.
func TestInitialThreadBlockMatchesRealProcess(t *testing.T) {
	requireGlibcHost(t)
	prof := hostGlibcProfile(t)
	dir := t.TempDir()
	exe := objtest.Program(t, dir, "tp", fmt.Sprintf(`#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
static __thread char own[%d] __attribute__((aligned(%d)));
int main(void) {
	char *tp; __asm__("mov %%%%fs:0,%%0" : "=r"(tp));
	void (*info)(size_t *, size_t *) = (void (*)(size_t *, size_t *))dlvsym(RTLD_DEFAULT, "_dl_get_tls_static_info", "GLIBC_PRIVATE");
	size_t sz, al; info(&sz, &al);
	void *p = *(void **)(tp + %d);
	printf("%%zu %%zu %%lu %%lu %%lu\n", sz, al, (unsigned long)tp, (unsigned long)p, (unsigned long)own);
	return 0;
}
`, 300, 128, prof.TCBSize), nil, "-ldl")
	for i := 0; i < 3; i++ { // ASLR: several placements
		out, err := exec.Command(exe).Output()
		require.NoError(t, err)
		var sz, al, tp, p, own uint64
		_, err = fmt.Sscan(strings.TrimSpace(string(out)), &sz, &al, &tp, &p, &own)
		require.NoError(t, err)
		b, err := prof.InitialThreadBlock(StaticInfo{Size: sz, Align: al}, vaspace.Addr(p), 4096)
		require.NoError(t, err)
		assert.Equal(t, vaspace.Addr(tp), b.TP, "tp")
		assert.True(t, b.Static.Contains(vaspace.Addr(own)), "the main program's TLS %#x lies in %v", own, b.Static)
		assert.True(t, b.Pages.Contains(vaspace.Addr(tp)), "pages %v hold tp", b.Pages)
	}
}
