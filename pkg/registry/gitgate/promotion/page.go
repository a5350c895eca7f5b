package promotion

import (
	"encoding/base64"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// continueToken says where the next page of a promotion list starts: right
// after promotion Name of namespace Namespace, in the list's newest-first
// order. Clients treat it as opaque. Promotions are immutable history, so
// the place stays valid while new promotions arrive in front of it.
type continueToken struct {
	Namespace string `json:"ns"`
	Name      string `json:"name"`
}

func (c continueToken) String() string {
	b, _ := json.Marshal(c) // two strings: cannot fail
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseContinue(s string) (*continueToken, error) {
	var c continueToken
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.Name == "" {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("continue token %q is not one this server gave: list again without it", s))
	}
	return &c, nil
}

// pager cuts a newest-first promotion list into pages of limit items (all
// of them when limit is 0), starting after the continue token.
type pager struct {
	limit int64
	after *continueToken // nil once the start is reached
	items []gitgate.Promotion
	next  *continueToken // set once a full page has more after it
}

func newPager(opts *metainternalversion.ListOptions) (*pager, error) {
	p := &pager{}
	if opts == nil {
		return p, nil
	}
	p.limit = opts.Limit
	if opts.Continue != "" {
		c, err := parseContinue(opts.Continue)
		if err != nil {
			return nil, err
		}
		p.after = c
	}
	return p, nil
}

// offer considers the next promotion, name of ns, in list order: it is
// skipped before the page's start, added when selected (present says
// whether, and makes the object only then), and once the page is full it
// becomes the reason for a continue token. offer returns false when the
// page needs no more promotions.
func (p *pager) offer(ns, name string, present func() (*gitgate.Promotion, bool)) bool {
	switch {
	case p.next != nil:
		return false
	case p.after != nil:
		if p.after.Namespace == ns && p.after.Name == name {
			p.after = nil
		}
		return true
	case p.limit > 0 && int64(len(p.items)) >= p.limit:
		last := p.items[len(p.items)-1]
		p.next = &continueToken{Namespace: last.Namespace, Name: last.Name}
		return false
	}
	if obj, ok := present(); ok {
		p.items = append(p.items, *obj)
	}
	return true
}

// done reports whether the continue token named a promotion that is no
// longer in history (rewritten), as a 410 the client answers by listing
// again, the way kube-apiserver answers a compacted continue token.
func (p *pager) done() error {
	if p.after != nil {
		return apierrors.NewResourceExpired(fmt.Sprintf("the continue token names promotion %s/%s, which is no longer in Git history: list again without it", p.after.Namespace, p.after.Name))
	}
	return nil
}
