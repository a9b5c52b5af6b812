package authz

import (
	"crypto/sha256"
	"encoding/json"
	"sync"
)

// maxCreated bounds the creates remembered for their start; past it the
// memory starts afresh, which only costs an evaluation.
const maxCreated = 1024

// created remembers the containers this plugin allowed at create, so that
// their start, decided on the image ID dockerd stored, need not be
// evaluated again when that is the image the create was decided on, under
// the same policies. Anything else (another image: a retag raced the
// create; another policy generation; a container created elsewhere) is
// evaluated in full.
type created struct {
	mu sync.Mutex
	// pending: allowed creates by the hash of their name and body, until
	// AuthZRes says which container dockerd made of them.
	pending map[[32]byte]createdFact
	// byID: containers by ID, until their start.
	byID map[string]createdFact
}

type createdFact struct {
	imageID    string
	generation uint64
}

func createKey(name string, body []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(body)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// allowed notes an allowed create of image imageID.
func (c *created) allowed(name string, body []byte, f createdFact) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil || len(c.pending) >= maxCreated {
		c.pending = map[[32]byte]createdFact{}
	}
	c.pending[createKey(name, body)] = f
}

// made links the create dockerd answered with response (its JSON body,
// {"Id": ...}) to the container it made.
func (c *created) made(name string, body, response []byte) {
	var res struct{ ID string }
	if len(response) > 4096 || json.Unmarshal(response, &res) != nil || res.ID == "" {
		return
	}
	k := createKey(name, body)
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.pending[k]
	if !ok {
		return
	}
	delete(c.pending, k)
	if c.byID == nil || len(c.byID) >= maxCreated {
		c.byID = map[string]createdFact{}
	}
	c.byID[res.ID] = f
}

// take returns, and forgets, what was noted of container id's create.
func (c *created) take(id string) (createdFact, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.byID[id]
	delete(c.byID, id)
	return f, ok
}
