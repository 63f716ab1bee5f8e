package tlscase

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Every built-in case reproduces its published outcome, and every fix
// has its reported effect.
func TestCasesReproduceTheirReports(t *testing.T) {
	require.NotEmpty(t, Names())
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			c, err := Load(name)
			require.NoError(t, err)
			require.NotEmpty(t, c.Published, "a case cites what it reproduces")
			r, err := c.Run()
			require.NoError(t, err)
			require.Equal(t, c.StartFails, r.StartError != "", "start-up: %s", r.StartError)
			if c.StartFails {
				require.Contains(t, r.StartError, "cannot allocate memory in static TLS block")
			}
			for i, o := range r.Outcomes {
				require.Equal(t, c.Expect[i], o.OK, "dlopen %s: %s", o.Name, o.Error)
				if !o.OK {
					require.Contains(t, o.Error, "cannot allocate memory in static TLS block")
				}
			}
			for _, f := range c.Fixes {
				fr, err := c.RunFix(f)
				require.NoError(t, err, f.Name)
				require.Equal(t, f.Works, fr.Loads(), "fix %q", f.Name)
			}
		})
	}
}

// A case dumped as JSON reads back to the same case with the same answer.
func TestCasesRoundTrip(t *testing.T) {
	for _, name := range Names() {
		c, err := Load(name)
		require.NoError(t, err)
		data, err := c.Marshal()
		require.NoError(t, err)
		require.True(t, IsCase(data))
		back, err := Parse(data, name+".json")
		require.NoError(t, err)
		require.Equal(t, c, back)
		r1, err := c.Run()
		require.NoError(t, err)
		r2, err := back.Run()
		require.NoError(t, err)
		require.Equal(t, r1.Outcomes, r2.Outcomes)
	}
}

func TestParseErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"name": "x", "glibc": "2.27", "arch": "aarch64", "modules": [], "dlopens": []}`:                                                            "0 modules are marked main",
		`{"name": "x", "glibc": "2.x", "arch": "aarch64", "modules": [{"name": "m", "main": true}], "dlopens": []}`:                                  "glibc",
		`{"name": "x", "glibc": "2.27", "arch": "sparc", "modules": [{"name": "m", "main": true}], "dlopens": []}`:                                   "sparc",
		`{"name": "x", "glibc": "2.27", "arch": "aarch64", "modules": [{"name": "m", "main": true, "needs": ["y"]}], "dlopens": []}`:                 `needs "y"`,
		`{"name": "x", "glibc": "2.27", "arch": "aarch64", "modules": [{"name": "m", "main": true}], "dlopens": ["z"]}`:                              `"z" is not among`,
		`{"name": "x", "glibc": "2.27", "arch": "aarch64", "modules": [{"name": "m", "main": true, "tls": {"size": 8, "align": 3}}], "dlopens": []}`: "power-of-two",
		`{"name": "x", "glibc": "2.27", "arch": "aarch64", "modules": [{"name": "m", "main": true, "access": "fast"}], "dlopens": []}`:               "access",
		`{"name": "x", "name": "y"}`:                 "name",
		`{"dlopens": [], "modules": [], "extra": 1}`: "extra",
	} {
		_, err := Parse([]byte(doc), "case.json")
		require.ErrorContains(t, err, want, doc)
		require.ErrorContains(t, err, "case.json", doc)
	}
}
