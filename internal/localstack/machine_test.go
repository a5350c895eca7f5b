package localstack

import (
	"os"
	"path/filepath"
	"testing"
)

// TestTrustedDirRefusesWhatOthersCouldPrepare: an earlier run's records are
// acted on as root, so they are read only from a directory of our own that
// no one else may write.
func TestTrustedDirRefusesWhatOthersCouldPrepare(t *testing.T) {
	cases := []struct {
		name    string
		prepare func(t *testing.T, path string)
		trusted bool
	}{
		{"trusted: no directory yet", func(*testing.T, string) {}, true},
		{"trusted: our own directory, 0700", func(t *testing.T, p string) { mkdir(t, p, 0o700) }, true},
		{"trusted: our own directory, 0755", func(t *testing.T, p string) { mkdir(t, p, 0o755) }, true},
		{"refused: writable by the group", func(t *testing.T, p string) { mkdir(t, p, 0o770) }, false},
		{"refused: writable by anyone", func(t *testing.T, p string) { mkdir(t, p, 0o777) }, false},
		{"refused: a symlink to our own directory", func(t *testing.T, p string) {
			target := p + "-target"
			mkdir(t, target, 0o700)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"refused: a file", func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"refused: someone else's directory", func(t *testing.T, p string) {
			mkdir(t, p, 0o700)
			if err := os.Chown(p, os.Getuid()+1, -1); err != nil {
				t.Skipf("cannot give a directory away without root: %v", err)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "suite")
			tc.prepare(t, p)
			err := trustedDir(p)
			if tc.trusted && err != nil {
				t.Errorf("refused: %v", err)
			}
			if !tc.trusted && err == nil {
				t.Error("trusted, want refused")
			}
		})
	}
}

func mkdir(t *testing.T, p string, perm os.FileMode) {
	t.Helper()
	if err := os.Mkdir(p, perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil { // past the umask
		t.Fatal(err)
	}
}
