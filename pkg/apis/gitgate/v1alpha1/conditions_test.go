package v1alpha1

import (
	"testing"

	"github.com/gitgate-dev/gitgate/pkg/apis/gitgate"
)

// The internal package repeats the condition types and reasons the engine
// sets (it cannot import this one); a rename on one side only would split
// status.
func TestInternalConditionTypesMatchTheAPI(t *testing.T) {
	for internal, api := range map[string]string{
		gitgate.ConditionReady:            ConditionReady,
		gitgate.ConditionGitReachable:     ConditionGitReachable,
		gitgate.ConditionDrift:            ConditionDrift,
		gitgate.ConditionPlaintextSecrets: ConditionPlaintextSecrets,
		gitgate.ConditionSucceeded:        ConditionSucceeded,
		gitgate.ReasonResolved:            ReasonResolved,
		gitgate.ReasonInvalidEnvironment:  ReasonInvalidEnvironment,
		gitgate.ReasonRenderFailed:        ReasonRenderFailed,
		gitgate.ReasonFetchSucceeded:      ReasonFetchSucceeded,
		gitgate.ReasonFetchFailed:         ReasonFetchFailed,
		gitgate.ReasonPlainSecretsInGit:   ReasonPlainSecretsInGit,
		gitgate.ReasonPromoted:            ReasonPromoted,
		gitgate.ReasonAwaitingReview:      ReasonAwaitingReview,
		gitgate.ReasonSuperseded:          ReasonSuperseded,
	} {
		if internal != api {
			t.Errorf("internal condition type %q differs from the API's %q", internal, api)
		}
	}
}
