package localstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
)

// applyWebhook registers gitgate-apiserver's webhook with the entries
// `gitgate-apiserver render-webhook` prints for the flags it runs with: the
// same filters as the chart's.
func (s *Stack) applyWebhook(ctx context.Context) error {
	args := append([]string{"render-webhook",
		fmt.Sprintf("--url=https://127.0.0.1:%d/validate", s.admissionPort), "--ca-bundle-file=" + s.CAFile,
	}, s.admissionFlags...)
	config, err := exec.CommandContext(ctx, s.bin("gitgate-apiserver"), args...).Output()
	if err != nil {
		return fmt.Errorf("gitgate-apiserver render-webhook: %w", err)
	}
	file := s.path("webhook.yaml")
	if err := os.WriteFile(file, config, 0o600); err != nil {
		return err
	}
	return s.apply(ctx, file)
}

// admissionFlags picks the --admission-* flags out of extra arguments.
func admissionFlags(args []string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, "--admission-") {
			out = append(out, a)
		}
	}
	return out
}

// PauseGitgate stops gitgate-apiserver with SIGSTOP: its ports still
// accept connections but nothing answers, as kube-apiserver sees a hung
// or unreachable replica. ResumeGitgate continues it.
func (s *Stack) PauseGitgate() error {
	return s.signalGitgate(syscall.SIGSTOP)
}

// ResumeGitgate continues a paused gitgate-apiserver.
func (s *Stack) ResumeGitgate() error {
	return s.signalGitgate(syscall.SIGCONT)
}

// KillGitgate kills gitgate-apiserver (SIGKILL) and waits until it is gone:
// its ports refuse connections. RestartGitgate brings it back.
func (s *Stack) KillGitgate() error {
	if err := s.signalGitgate(syscall.SIGKILL); err != nil {
		return err
	}
	<-s.gitgate.done
	return nil
}

func (s *Stack) signalGitgate(sig syscall.Signal) error {
	if s.gitgate == nil {
		return errNoProcess
	}
	if err := s.gitgate.exited(); err != nil {
		return err
	}
	if err := syscall.Kill(-s.gitgate.cmd.Process.Pid, sig); err != nil {
		return fmt.Errorf("signalling gitgate-apiserver (%v): %w", sig, err)
	}
	return nil
}

// errNoProcess: with a node, gitgate runs in the chart's pods, not as the
// stack's process.
var errNoProcess = errors.New("gitgate-apiserver runs in pods on this stack (Options.Node): act on its pods instead")
