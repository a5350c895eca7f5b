package promotion

import (
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// listPage runs a pager over history (namespace/name, newest first), where
// names starting with "x" are not selected, as List does.
func listPage(t *testing.T, history []string, limit int64, cont string) ([]string, string, error) {
	t.Helper()
	p, err := newPager(&metainternalversion.ListOptions{Limit: limit, Continue: cont})
	if err != nil {
		return nil, "", err
	}
	for _, h := range history {
		ns, name, _ := strings.Cut(h, "/")
		if !p.offer(ns, name, func() (*gitgate.Promotion, bool) {
			return &gitgate.Promotion{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, !strings.HasPrefix(name, "x")
		}) {
			break
		}
	}
	if err := p.done(); err != nil {
		return nil, "", err
	}
	var names []string
	for _, i := range p.items {
		names = append(names, i.Namespace+"/"+i.Name)
	}
	next := ""
	if p.next != nil {
		next = p.next.String()
	}
	return names, next, nil
}

func TestPagesWalkHistoryOnceEach(t *testing.T) {
	history := []string{"a/p9", "a/x8", "a/p7", "a/p6", "b/p5", "b/p4", "b/x3"}
	for _, tc := range []struct {
		name  string
		limit int64
		want  []string
	}{
		{"listed: everything without a limit", 0, []string{"a/p9 a/p7 a/p6 b/p5 b/p4"}},
		{"paged: two at a time, across namespaces, skipping unselected ones", 2, []string{"a/p9 a/p7", "a/p6 b/p5", "b/p4"}},
		{"paged: only unselected promotions after a full page make one empty last page", 5, []string{"a/p9 a/p7 a/p6 b/p5 b/p4", ""}},
		{"paged: one at a time", 1, []string{"a/p9", "a/p7", "a/p6", "b/p5", "b/p4", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			cont := ""
			for i := 0; i < 10; i++ {
				names, next, err := listPage(t, history, tc.limit, cont)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, strings.Join(names, " "))
				if cont = next; cont == "" {
					break
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("pages %q, want %q", got, tc.want)
			}
		})
	}
}

func TestLastFullPageHasNoContinueToken(t *testing.T) {
	if names, next, err := listPage(t, []string{"a/p2", "a/p1"}, 2, ""); err != nil || next != "" || len(names) != 2 {
		t.Errorf("got %v, continue %q, %v; want both and no continue token", names, next, err)
	}
}

func TestPagesStayInPlaceWhenNewPromotionsArrive(t *testing.T) {
	_, next, _ := listPage(t, []string{"a/p3", "a/p2", "a/p1"}, 1, "")
	got, _, err := listPage(t, []string{"a/p5", "a/p4", "a/p3", "a/p2", "a/p1"}, 1, next)
	if err != nil || strings.Join(got, " ") != "a/p2" {
		t.Errorf("the second page after two new promotions: %v, %v; want a/p2", got, err)
	}
}

func TestContinueTokenRefusals(t *testing.T) {
	for _, tc := range []struct {
		name, token string
		expired     bool
	}{
		{"refused: a token this server never gave", "not-base64!", false},
		{"refused: a token without a name", continueToken{Namespace: "a"}.String(), false},
		{"expired: a token naming a promotion gone from history", continueToken{Namespace: "a", Name: "rewritten"}.String(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := listPage(t, []string{"a/p2", "a/p1"}, 1, tc.token)
			if tc.expired && !apierrors.IsResourceExpired(err) {
				t.Errorf("got %v, want 410 Expired", err)
			}
			if !tc.expired && !apierrors.IsBadRequest(err) {
				t.Errorf("got %v, want 400 Bad Request", err)
			}
		})
	}
}
