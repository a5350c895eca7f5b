package registry

import "testing"

func TestStatusNotifierKeepsTheNewestAndNeverBlocks(t *testing.T) {
	var n StatusNotifier
	n.Notify(StatusChange{Environment: "nobody-listens"}) // no subscriber: nothing happens
	ch, stop := n.Subscribe()
	for i := range statusBuffer + 10 {
		n.Notify(StatusChange{Namespace: "shop", Environment: string(rune('a' + i%26))})
	}
	n.Notify(StatusChange{Kustomization: "flux-system/apps-prod"})
	if len(ch) != statusBuffer {
		t.Fatalf("%d notifications buffered, want %d", len(ch), statusBuffer)
	}
	var last StatusChange
	for len(ch) > 0 {
		last = <-ch
	}
	if last.Kustomization != "flux-system/apps-prod" {
		t.Fatalf("the newest notification was dropped; last read %+v", last)
	}
	stop()
	n.Notify(StatusChange{Environment: "after-stop"})
	if len(ch) != 0 {
		t.Fatal("a stopped subscription still receives")
	}
}
