package engine

import (
	"errors"
	"fmt"

	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// Ancestors returns descendant and the commits in its history (full SHAs),
// at most limit of them, newest first along each parent; complete is false
// when the history is longer. It reads the mirror only: no network, no
// lock, so it is safe beside writers. The answer for a commit never
// changes; an error (a commit the mirror does not hold yet) means it is
// not known yet.
func (e *Engine) Ancestors(descendant string, limit int) (commits []string, complete bool, err error) {
	d, err := gitstore.ParseHash(descendant)
	if err != nil {
		return nil, false, fmt.Errorf("revision %q: %w", descendant, err)
	}
	errLimit := errors.New("limit reached")
	err = e.repo.Published().Walk([]gitstore.Hash{d}, nil, func(c *gitstore.Commit) error {
		if len(commits) == limit {
			return errLimit
		}
		commits = append(commits, c.Hash.String())
		return nil
	})
	switch {
	case errors.Is(err, errLimit):
		return commits, false, nil
	case err != nil:
		return nil, false, fmt.Errorf("reading the history of %s: %w", descendant, err)
	}
	return commits, true, nil
}
