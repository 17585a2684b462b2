package records

import (
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/clinic/interactions/models"
)

// MergePatch applies patch to target as RFC 7396 describes: a null removes a field,
// an object merges into an object, anything else replaces. target is not modified.
func MergePatch(target, patch bson.D) bson.D {
	out := make(bson.D, 0, len(target)+len(patch))
	out = append(out, target...)
	for _, p := range patch {
		i := models.FieldIndex(out, p.Key)
		switch {
		case p.Value == nil:
			if i >= 0 {
				out = append(out[:i:i], out[i+1:]...)
			}
		case i >= 0:
			pd, pIsDoc := p.Value.(bson.D)
			td, tIsDoc := out[i].Value.(bson.D)
			switch {
			case pIsDoc && tIsDoc:
				out[i].Value = MergePatch(td, pd)
			case pIsDoc:
				out[i].Value = MergePatch(nil, pd)
			default:
				out[i].Value = p.Value
			}
		default:
			if pd, ok := p.Value.(bson.D); ok {
				out = append(out, bson.E{Key: p.Key, Value: MergePatch(nil, pd)})
			} else {
				out = append(out, p)
			}
		}
	}
	return out
}
