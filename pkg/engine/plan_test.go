package engine

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
	"github.com/gitgate-dev/gitgate/pkg/gitstore"
)

// memGit is an in-memory gitReader for the planner's unit tests: every
// commit holds its whole tree as a map of files.
type memGit struct {
	commits map[gitstore.Hash]*memCommit
	clock   time.Time
}

type memCommit struct {
	commit gitstore.Commit
	files  map[string]string
}

func newMemGit() *memGit {
	return &memGit{commits: map[gitstore.Hash]*memCommit{}, clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

// commit makes a commit on parents (the first gives the starting tree)
// with edits applied; an empty content deletes the file.
func (m *memGit) commit(parents []gitstore.Hash, edits map[string]string, msg string) gitstore.Hash {
	files := map[string]string{}
	if len(parents) > 0 {
		for k, v := range m.commits[parents[0]].files {
			files[k] = v
		}
	}
	for k, v := range edits {
		if v == "" {
			delete(files, k)
		} else {
			files[k] = v
		}
	}
	m.clock = m.clock.Add(time.Minute)
	tree := treeOf(files, "")
	h := gitstore.Hash(sha1.Sum([]byte(fmt.Sprint(parents, tree, msg, m.clock))))
	sig := gitstore.Signature{Name: "someone", Email: "someone@example.com", When: m.clock}
	m.commits[h] = &memCommit{
		commit: gitstore.Commit{Hash: h, Tree: tree, Parents: parents, Author: sig, Committer: sig, Message: msg},
		files:  files,
	}
	return h
}

// treeOf hashes the files under dir, or is zero when there are none.
func treeOf(files map[string]string, dir string) gitstore.Hash {
	var names []string
	for name := range files {
		if dir == "" || strings.HasPrefix(name, dir+"/") {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return gitstore.ZeroHash
	}
	slices.Sort(names)
	h := sha1.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%s\x00", strings.TrimPrefix(n, dir+"/"), files[n])
	}
	return gitstore.Hash(h.Sum(nil))
}

func (m *memGit) get(h gitstore.Hash) (*memCommit, error) {
	c, ok := m.commits[h]
	if !ok {
		return nil, fmt.Errorf("%s: %w", h.Short(), gitstore.ErrCommitNotFound)
	}
	return c, nil
}

func (m *memGit) Commit(h gitstore.Hash) (*gitstore.Commit, error) {
	c, err := m.get(h)
	if err != nil {
		return nil, err
	}
	out := c.commit
	return &out, nil
}

func (m *memGit) ReadFile(commit gitstore.Hash, name string) ([]byte, error) {
	c, err := m.get(commit)
	if err != nil {
		return nil, err
	}
	content, ok := c.files[name]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, gitstore.ErrFileNotFound)
	}
	return []byte(content), nil
}

func (m *memGit) TreeHash(commit gitstore.Hash, dir string) (gitstore.Hash, error) {
	c, err := m.get(commit)
	if err != nil {
		return gitstore.ZeroHash, err
	}
	h := treeOf(c.files, path.Clean("/" + dir)[1:])
	if h.IsZero() {
		return h, fmt.Errorf("%s: %w", dir, gitstore.ErrFileNotFound)
	}
	return h, nil
}

func (m *memGit) EntryHashes(commit gitstore.Hash, paths []string) ([]gitstore.Hash, error) {
	c, err := m.get(commit)
	if err != nil {
		return nil, err
	}
	out := make([]gitstore.Hash, len(paths))
	for i, p := range paths {
		if content, ok := c.files[p]; ok {
			out[i] = gitstore.Hash(sha1.Sum([]byte(content)))
		} else {
			out[i] = treeOf(c.files, p)
		}
	}
	return out, nil
}

func (m *memGit) ListFiles(commit gitstore.Hash, dir string) ([]string, error) {
	if _, err := m.TreeHash(commit, dir); err != nil {
		return nil, err
	}
	var out []string
	for name := range m.commits[commit].files {
		if path.Dir(name) == path.Clean(dir) {
			out = append(out, path.Base(name))
		}
	}
	slices.Sort(out)
	return out, nil
}

func (m *memGit) Walk(heads []gitstore.Hash, skip func(gitstore.Hash) bool, fn func(*gitstore.Commit) error) error {
	seen := map[gitstore.Hash]bool{}
	stack := slices.Clone(heads)
	for len(stack) > 0 {
		h := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[h] || (skip != nil && skip(h)) {
			continue
		}
		seen[h] = true
		c, err := m.Commit(h)
		if err != nil {
			return err
		}
		if err := fn(c); err != nil {
			if errors.Is(err, gitstore.ErrStopWalk) {
				return nil
			}
			return err
		}
		for i := len(c.Parents) - 1; i >= 0; i-- {
			stack = append(stack, c.Parents[i])
		}
	}
	return nil
}

func (m *memGit) IsAncestor(a, b gitstore.Hash) (bool, error) {
	found := false
	err := m.Walk([]gitstore.Hash{b}, nil, func(c *gitstore.Commit) error {
		if c.Hash == a {
			found = true
			return gitstore.ErrStopWalk
		}
		return nil
	})
	return found, err
}

// overlayWith is a kustomization.yaml on ../../base with the images given as
// name=tag pairs.
func overlayWith(images ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- ../../base\nimages:\n")
	for _, img := range images {
		name, tag, _ := strings.Cut(img, "=")
		fmt.Fprintf(&b, "- name: %s\n  newName: registry.example.com/%s\n  newTag: %q\n", name, name, tag)
	}
	return b.String()
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  selector:
    matchLabels: {app: app}
  template:
    metadata:
      labels: {app: app}
    spec:
      containers:
      - name: app
        image: app
`

func environment(name string, spec gitgate.EnvironmentSpec) *envState {
	env := &gitgate.Environment{Spec: spec}
	env.Name = name
	return &envState{env: env}
}

// trunkRepo is a one-branch fleet with three commits: dev moves ahead,
// test takes a release candidate, prod (tag pattern ^[0-9.]+$) stays.
func trunkRepo() (*memGit, *Snapshot, map[string]gitstore.Hash) {
	m := newMemGit()
	c1 := m.commit(nil, map[string]string{
		"base/kustomization.yaml":          "resources:\n- deployment.yaml\n",
		"base/deployment.yaml":             deployment,
		"overlays/dev/kustomization.yaml":  overlayWith("app=1.0", "worker=2.0"),
		"overlays/test/kustomization.yaml": overlayWith("app=1.0", "worker=2.0"),
		"overlays/prod/kustomization.yaml": overlayWith("app=1.0", "worker=2.0"),
	}, "first")
	c2 := m.commit([]gitstore.Hash{c1}, map[string]string{
		"overlays/dev/kustomization.yaml":  overlayWith("app=1.1", "worker=2.0"),
		"overlays/test/kustomization.yaml": overlayWith("app=1.2-rc", "worker=2.0"),
	}, "dev 1.1, test 1.2-rc")
	c3 := m.commit([]gitstore.Hash{c2}, map[string]string{
		"overlays/dev/kustomization.yaml": overlayWith("app=1.3", "worker=2.1"),
	}, "dev 1.3")
	s := &Snapshot{defaultBranch: "main", heads: map[string]gitstore.Hash{"main": c3}, envs: map[string]*envState{
		"dev":  environment("dev", gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/dev", Strategy: gitgate.StrategyImages}),
		"test": environment("test", gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/test", PromotesFrom: "dev", Strategy: gitgate.StrategyImages}),
		"prod": environment("prod", gitgate.EnvironmentSpec{Branch: "main", Path: "overlays/prod", PromotesFrom: "test",
			Strategy: gitgate.StrategyImages, ImageTagPattern: `^[0-9.]+$`}),
	}}
	return m, s, map[string]gitstore.Hash{"c1": c1, "c2": c2, "c3": c3}
}

// planCase is one planner case: a request and what must come of it.
type planCase struct {
	name      string
	promotion *gitgate.Promotion
	// For a plan: the changes (name from→to), the source revision's
	// commit name, and strings the edited kustomization must hold.
	changes []string
	source  string
	holds   []string
	// For a refusal: the error's kind and a field or message it names.
	invalid, conflict bool
	mentions          string
}

func withRevision(p *gitgate.Promotion, rev string) *gitgate.Promotion {
	p.Spec.Revision = rev
	return p
}

func TestPlannerImages(t *testing.T) {
	m, s, commits := trunkRepo()
	pn := planner{git: m, defaultBranch: "main"}
	for _, tc := range []planCase{
		{name: "planned: test takes dev's app and worker at the head", promotion: promotion("p", "test", ""),
			changes: []string{"app 1.2-rc→1.3", "worker 2.0→2.1"}, source: "c3",
			holds: []string{`newTag: "1.3"`, `newTag: "2.1"`}},
		{name: "planned: a subset moves only worker", promotion: promotion("p", "test", "", "worker"),
			changes: []string{"worker 2.0→2.1"}, source: "c3",
			holds: []string{`newTag: "1.2-rc"`, `newTag: "2.1"`}},
		{name: "planned: rollback of test to dev's older revision takes its app 1.1", promotion: withRevision(promotion("p", "test", ""), commits["c2"].String()[:8]),
			changes: []string{"app 1.2-rc→1.1"}, source: "c2",
			holds: []string{`newTag: "1.1"`, `newTag: "2.0"`}},
		{name: "planned: prod takes dev's app 1.3 alone, which its tag pattern allows", promotion: promotion("p", "prod", "dev", "app"),
			changes: []string{"app 1.0→1.3"}, source: "c3", holds: []string{`newTag: "1.3"`, `newTag: "2.0"`}},
		{name: "refused: nothing to promote, prod has what test had at the first commit", promotion: withRevision(promotion("p", "prod", ""), commits["c1"].Short()),
			invalid: true, mentions: "nothing to promote"},
		{name: "refused: image cache is not in dev's overlay", promotion: promotion("p", "test", "", "cache"),
			invalid: true, mentions: "spec.images[0]"},
		{name: "refused: prod's tag pattern rejects test's 1.2-rc", promotion: promotion("p", "prod", ""),
			invalid: true, mentions: "imageTagPattern"},
		{name: "refused: unknown environment staging", promotion: promotion("p", "staging", "dev"),
			invalid: true, mentions: "spec.environment"},
		{name: "refused: unknown source environment qa", promotion: promotion("p", "test", "qa"),
			invalid: true, mentions: "spec.from"},
		{name: "refused: dev promotes from nothing and names no source", promotion: promotion("p", "dev", ""),
			invalid: true, mentions: "has no promotesFrom"},
		{name: "refused: a revision that is not on dev's branch", promotion: withRevision(promotion("p", "test", ""), "deadbeef"),
			invalid: true, mentions: "spec.revision"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, pn, s, commits, tc) })
	}
}

func checkPlan(t *testing.T, pn planner, s *Snapshot, commits map[string]gitstore.Hash, tc planCase) {
	t.Helper()
	pl, err := pn.plan(s, tc.promotion)
	var inv *InvalidError
	var conflict *ConflictError
	switch {
	case tc.invalid:
		if !errors.As(err, &inv) || !strings.Contains(err.Error(), tc.mentions) {
			t.Fatalf("plan = %v, %v; want a 422 mentioning %q", pl, err, tc.mentions)
		}
		return
	case tc.conflict:
		if !errors.As(err, &conflict) || !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), tc.mentions) {
			t.Fatalf("plan = %v, %v; want a 409 mentioning %q", pl, err, tc.mentions)
		}
		if len(conflict.Commits) == 0 {
			t.Errorf("the conflict lists no commits: %+v", conflict)
		}
		return
	case err != nil:
		t.Fatalf("plan: %v", err)
	}
	var got []string
	for _, ch := range pl.changes {
		got = append(got, ch.Name+" "+ch.From+"→"+ch.To)
	}
	if !slices.Equal(got, tc.changes) {
		t.Errorf("changes = %q, want %q", got, tc.changes)
	}
	if pl.sourceRev != commits[tc.source] {
		t.Errorf("source revision = %s, want %s (%s)", pl.sourceRev.Short(), tc.source, commits[tc.source].Short())
	}
	if len(tc.holds) > 0 {
		if len(pl.edits) != 1 || pl.edits[0].Path != path.Join(pl.target.Spec.Path, "kustomization.yaml") {
			t.Fatalf("edits = %+v, want the target's kustomization.yaml alone", pl.edits)
		}
		for _, want := range tc.holds {
			if !strings.Contains(string(pl.edits[0].Content), want) {
				t.Errorf("the edited kustomization lacks %q:\n%s", want, pl.edits[0].Content)
			}
		}
	}
}

// gitflowRepo has a branch per environment (Merge strategy): dev is one
// commit ahead of test, and main (prod) has a hotfix that test lacks.
func gitflowRepo() (*memGit, *Snapshot, map[string]gitstore.Hash) {
	m := newMemGit()
	defs := map[string]string{
		".gitgate/environments/dev.yaml":  "spec: {branch: dev, path: deploy, strategy: Merge}\n",
		".gitgate/environments/test.yaml": "spec: {branch: test, path: deploy, strategy: Merge, promotesFrom: dev}\n",
		".gitgate/environments/prod.yaml": "spec: {path: deploy, strategy: Merge, promotesFrom: test}\n",
		"deploy/kustomization.yaml":       "resources:\n- deployment.yaml\nimages:\n- name: app\n  newTag: \"1.0\"\n",
		"deploy/deployment.yaml":          deployment,
	}
	root := m.commit(nil, defs, "first")
	dev := m.commit([]gitstore.Hash{root}, map[string]string{
		"deploy/kustomization.yaml": "resources:\n- deployment.yaml\nimages:\n- name: app\n  newTag: \"1.1\"\n",
	}, "app 1.1")
	hotfix := m.commit([]gitstore.Hash{root}, map[string]string{
		"deploy/kustomization.yaml": "resources:\n- deployment.yaml\nimages:\n- name: app\n  newTag: \"1.0.1\"\n",
	}, "hotfix straight on main")
	s := &Snapshot{defaultBranch: "main", heads: map[string]gitstore.Hash{"dev": dev, "test": root, "main": hotfix, "qa": root},
		envs: map[string]*envState{
			"dev":  environment("dev", gitgate.EnvironmentSpec{Branch: "dev", Path: "deploy", Strategy: gitgate.StrategyMerge}),
			"test": environment("test", gitgate.EnvironmentSpec{Branch: "test", Path: "deploy", PromotesFrom: "dev", Strategy: gitgate.StrategyMerge}),
			"qa":   environment("qa", gitgate.EnvironmentSpec{Branch: "qa", Path: "deploy", PromotesFrom: "test", Strategy: gitgate.StrategyMerge}),
			"prod": environment("prod", gitgate.EnvironmentSpec{Branch: "main", Path: "deploy", PromotesFrom: "test", Strategy: gitgate.StrategyMerge}),
		}}
	return m, s, map[string]gitstore.Hash{"root": root, "dev": dev, "hotfix": hotfix}
}

func TestPlannerMerge(t *testing.T) {
	m, s, commits := gitflowRepo()
	pn := planner{git: m, defaultBranch: "main"}
	for _, tc := range []planCase{
		{name: "planned: test moves to dev's head", promotion: promotion("p", "test", ""),
			changes: []string{"test " + commits["root"].Short() + "→" + commits["dev"].Short()}, source: "dev"},
		{name: "refused: nothing to promote, qa's tree is test's", promotion: promotion("p", "qa", ""),
			invalid: true, mentions: "nothing to promote"},
		{name: "refused 409: main has a hotfix that test lacks", promotion: promotion("p", "prod", "dev"),
			conflict: true, mentions: "hotfix straight on main"},
	} {
		t.Run(tc.name, func(t *testing.T) { checkPlan(t, pn, s, commits, tc) })
	}
	t.Run("planned: the merge commit carries the source's tree", func(t *testing.T) {
		pl, err := pn.plan(s, promotion("p", "test", ""))
		if err != nil {
			t.Fatal(err)
		}
		if want := m.commits[commits["dev"]].commit.Tree; pl.mergeTree != want || pl.parent != commits["root"] {
			t.Errorf("merge tree %s on parent %s, want dev's tree %s on test's head %s",
				pl.mergeTree.Short(), pl.parent.Short(), want.Short(), commits["root"].Short())
		}
	})
}
