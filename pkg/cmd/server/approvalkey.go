package server

import (
	"bytes"
	"fmt"
	"os"
)

// minApprovalKey is the shortest approval key accepted, in bytes.
const minApprovalKey = 32

// readApprovalKey reads the approval key file; no file means no key.
func readApprovalKey(path string) ([]byte, error) {
	if path == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--approval-key-file: %w", err)
	}
	key := bytes.TrimSpace(raw)
	if len(key) < minApprovalKey {
		return nil, fmt.Errorf("--approval-key-file %s holds %d bytes: an approval key needs at least %d (e.g. head -c 48 /dev/urandom | base64)", path, len(key), minApprovalKey)
	}
	return key, nil
}
