package imageindex

import (
	"io/fs"
	"sort"
	"strings"
)

// flat is the read-only form of a merged tree that an Index holds: every
// path one small fixed-size record in one slice, a directory's children
// next to each other and sorted by name, and every name and link target a
// piece of one string. No map, no pointer and no string header per path:
// an image of 200,000 executables holds a few megabytes, where a tree of
// nodes and maps held five times that.
type flat struct {
	nodes []fnode // nodes[0] is the root
	names string
	links string
}

// fnode is one path of a flat tree.
type fnode struct {
	name, nameLen uint32 // in flat.names
	link, linkLen uint32 // in flat.links
	first, count  uint32 // the children, in flat.nodes
	uid, gid      uint32 // the owner, from the layer's header
	mode          uint16 // permission bits
	typ           Type
}

// fnodeBytes is the size of an fnode, for the estimate of an index's size.
const fnodeBytes = 36

// freeze lays a tree out flat, breadth first so that every directory's
// children are one run of nodes.
func freeze(root *node) *flat {
	f := &flat{nodes: []fnode{{typ: root.Type, mode: uint16(root.Mode.Perm()), uid: root.UID, gid: root.GID}}}
	var names, links strings.Builder
	queue := []*node{root}
	for i := 0; i < len(queue); i++ {
		n := queue[i]
		if n.Type != TypeDir || len(n.children) == 0 {
			continue
		}
		keys := make([]string, 0, len(n.children))
		for k := range n.children {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		f.nodes[i].first, f.nodes[i].count = uint32(len(f.nodes)), uint32(len(keys))
		for _, k := range keys {
			ch := n.children[k]
			fn := fnode{name: uint32(names.Len()), nameLen: uint32(len(k)), typ: ch.Type, mode: uint16(ch.Mode.Perm()), uid: ch.UID, gid: ch.GID}
			names.WriteString(k)
			if ch.Link != "" {
				fn.link, fn.linkLen = uint32(links.Len()), uint32(len(ch.Link))
				links.WriteString(ch.Link)
			}
			f.nodes = append(f.nodes, fn)
			queue = append(queue, ch)
		}
	}
	f.nodes = append([]fnode(nil), f.nodes...) // no spare capacity
	f.names, f.links = names.String(), links.String()
	return f
}

func (f *flat) name(i uint32) string {
	n := &f.nodes[i]
	return f.names[n.name : n.name+n.nameLen]
}

func (f *flat) entry(i uint32) Entry {
	n := &f.nodes[i]
	return Entry{Type: n.typ, Mode: fs.FileMode(n.mode), UID: n.uid, GID: n.gid, Link: f.links[n.link : n.link+n.linkLen]}
}

// bytes is about the memory f holds.
func (f *flat) bytes() int { return len(f.nodes)*fnodeBytes + len(f.names) + len(f.links) }

// view is what walk needs of a tree: the flat one of an Index, or the
// tree of nodes Build stacks layers on (to find a hardlink's target).
type view[H any] interface {
	rootOf() H
	typeOf(H) Type
	linkOf(H) string
	child(dir H, name string) (H, bool)
}

func (f *flat) rootOf() uint32         { return 0 }
func (f *flat) typeOf(i uint32) Type   { return f.nodes[i].typ }
func (f *flat) linkOf(i uint32) string { n := &f.nodes[i]; return f.links[n.link : n.link+n.linkLen] }
func (f *flat) child(dir uint32, name string) (uint32, bool) {
	d := &f.nodes[dir]
	lo, hi := d.first, d.first+d.count
	for lo < hi {
		mid := lo + (hi-lo)/2
		switch c := strings.Compare(f.name(mid), name); {
		case c == 0:
			return mid, true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

// tree is the mutable tree of nodes Build stacks layers on.
type tree struct{ root *node }

func newTree() *tree { return &tree{root: &node{Entry: Entry{Type: TypeDir, Mode: 0o755}}} }

func (t *tree) rootOf() *node         { return t.root }
func (t *tree) typeOf(n *node) Type   { return n.Type }
func (t *tree) linkOf(n *node) string { return n.Link }
func (t *tree) child(dir *node, name string) (*node, bool) {
	ch := dir.children[name]
	return ch, ch != nil
}
