package models

// Topology is how the store is deployed, as its hello command says.
type Topology struct {
	// Kind is standalone, replica set or sharded.
	Kind string `json:"kind" validate:"required" enums:"standalone,replica set,sharded" example:"replica set"`
	// ReplicaSet names the replica set, for a replica set.
	ReplicaSet string `json:"replica_set,omitempty" example:"rs0"`
	// Primary is the member that takes writes, for a replica set.
	Primary string `json:"primary,omitempty" example:"mongo1:27017"`
}
