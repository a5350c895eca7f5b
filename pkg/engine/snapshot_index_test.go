package engine

import (
	"fmt"
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

func TestPromotionIndexFindsEveryPromotionAcrossCompactions(t *testing.T) {
	var list []*gitgate.Promotion
	ix := promotionIndex{}.next(nil, false, promotionSeq{newer: list})
	for i := 0; i < 3*maxDelta; i++ {
		p := &gitgate.Promotion{}
		p.Name = fmt.Sprintf("p-%d", i)
		list = append([]*gitgate.Promotion{p}, list...)
		before := ix
		ix = ix.next([]*gitgate.Promotion{p}, true, promotionSeq{newer: list})
		if len(ix.delta) > maxDelta {
			t.Fatalf("after %d writes the delta holds %d entries, more than %d", i+1, len(ix.delta), maxDelta)
		}
		if _, ok := before.get(p.Name); ok {
			t.Fatalf("the index before write %d already finds %s: snapshots share a map they change", i+1, p.Name)
		}
	}
	for _, p := range list {
		if got, ok := ix.get(p.Name); !ok || got != p {
			t.Fatalf("the index does not find %s", p.Name)
		}
	}
	if _, ok := ix.get("never"); ok {
		t.Fatal("the index finds a promotion that does not exist")
	}
}
