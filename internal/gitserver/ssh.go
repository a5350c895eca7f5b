package gitserver

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
)

// SSHServer serves the bare repositories under a root over SSH on
// loopback, as a Git host does: git-upload-pack and git-receive-pack run
// through the git CLI for one authorized client key.
type SSHServer struct {
	// HostKey is the server's public host key, for known_hosts.
	HostKey ssh.PublicKey
	// Addr is host:port.
	Addr string

	root   string
	ln     net.Listener
	config *ssh.ServerConfig
	wg     sync.WaitGroup
}

// StartSSH serves root on a free loopback port, admitting only authorized.
func StartSSH(root string, authorized ssh.PublicKey) (*SSHServer, error) {
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	signer, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		return nil, err
	}
	config := &ssh.ServerConfig{PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
		if bytes.Equal(key.Marshal(), authorized.Marshal()) {
			return nil, nil
		}
		return nil, errors.New("key not authorized")
	}}
	config.AddHostKey(signer)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &SSHServer{HostKey: signer.PublicKey(), Addr: ln.Addr().String(), root: root, ln: ln, config: config}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// URL is the ssh:// URL of repository name (the bare directory name.git).
func (s *SSHServer) URL(name string) string {
	return "ssh://git@" + s.Addr + "/" + name + ".git"
}

// KnownHosts is the known_hosts line that trusts this server.
func (s *SSHServer) KnownHosts() []byte {
	host, port, _ := net.SplitHostPort(s.Addr)
	return []byte(fmt.Sprintf("[%s]:%s %s", host, port, ssh.MarshalAuthorizedKey(s.HostKey)))
}

// Stop closes the listener and waits for the connections to end.
func (s *SSHServer) Stop() error {
	err := s.ln.Close()
	s.wg.Wait()
	return err
}

func (s *SSHServer) accept() {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serve(conn)
		}()
	}
}

func (s *SSHServer) serve(conn net.Conn) {
	defer conn.Close()
	_, chans, reqs, err := ssh.NewServerConn(conn, s.config)
	if err != nil {
		return
	}
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			_ = nc.Reject(ssh.UnknownChannelType, "only sessions")
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			continue
		}
		go s.session(ch, chReqs)
	}
}

// session runs the one git command a session asks for.
func (s *SSHServer) session(ch ssh.Channel, reqs <-chan *ssh.Request) {
	defer ch.Close()
	for req := range reqs {
		if req.Type != "exec" || len(req.Payload) < 4 {
			_ = req.Reply(false, nil)
			continue
		}
		n := binary.BigEndian.Uint32(req.Payload)
		command := string(req.Payload[4 : 4+min(int(n), len(req.Payload)-4)])
		verb, repo, ok := strings.Cut(command, " ")
		repo = strings.Trim(repo, "'\"/")
		if !ok || (verb != "git-upload-pack" && verb != "git-receive-pack") || strings.Contains(repo, "..") {
			_ = req.Reply(false, nil)
			return
		}
		_ = req.Reply(true, nil)
		status := s.run(ch, strings.TrimPrefix(verb, "git-"), filepath.Join(s.root, repo))
		_, _ = ch.SendRequest("exit-status", false, binary.BigEndian.AppendUint32(nil, uint32(status)))
		return
	}
}

func (s *SSHServer) run(ch ssh.Channel, service, dir string) int {
	cmd := exec.Command("git", service, dir)
	cmd.Stdout, cmd.Stderr = ch, ch.Stderr()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return 1
	}
	if err := cmd.Start(); err != nil {
		return 1
	}
	// The client may keep its side open; the command's exit ends the session.
	go func() {
		_, _ = io.Copy(stdin, ch)
		_ = stdin.Close()
	}()
	if err := cmd.Wait(); err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return exit.ExitCode()
		}
		return 1
	}
	return 0
}
