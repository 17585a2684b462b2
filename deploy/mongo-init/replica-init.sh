#!/usr/bin/env bash
# Initiates the replica set rs0 of docker-compose.yml's `replica` profile and creates
# its users: the root user (MONGO_INITDB_ROOT_USERNAME, MONGO_INITDB_ROOT_PASSWORD)
# and the service's (app-user.js). It runs in the network namespace of mongo-rs1, so
# that while the set has no user yet MongoDB's localhost exception lets it initiate
# the set and create the first user. Safe to run again: an initiated set is left as it
# is, an existing root user is used, and the service's user is brought up to date.
set -euo pipefail
: "${MONGO_INITDB_ROOT_USERNAME:?set MONGO_INITDB_ROOT_USERNAME}"
: "${MONGO_INITDB_ROOT_PASSWORD:?set MONGO_INITDB_ROOT_PASSWORD}"
here="$(cd "$(dirname "$0")" && pwd)"
local=(mongosh --quiet --host 127.0.0.1:27017)
root=("${local[@]}" --username "$MONGO_INITDB_ROOT_USERNAME" --password "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin)

for _ in $(seq 60); do
	"${local[@]}" --eval 'db.adminCommand({ping: 1}).ok' >/dev/null 2>&1 && break
	sleep 1
done

if "${root[@]}" --eval 'db.adminCommand({ping: 1}).ok' >/dev/null 2>&1; then
	echo "rs0: the root user exists, so the set was initiated before"
else
	# hello needs no user; it names the set once it is initiated.
	"${local[@]}" --eval '
		if (!db.hello().setName) {
			rs.initiate({_id: "rs0", members: [
				{_id: 0, host: "mongo-rs1:27017", priority: 2},
				{_id: 1, host: "mongo-rs2:27017"},
				{_id: 2, host: "mongo-rs3:27017"},
			]});
			print("rs0: initiated");
		}
		for (let i = 0; !db.hello().isWritablePrimary; i++) {
			if (i === 120) throw new Error("rs0: mongo-rs1 did not become primary in 60 s");
			sleep(500);
		}
		db.getSiblingDB("admin").createUser({user: process.env.MONGO_INITDB_ROOT_USERNAME,
			pwd: process.env.MONGO_INITDB_ROOT_PASSWORD, roles: ["root"]});
		print("rs0: root user created");
	'
fi

# The service's user, through the set: mongosh writes it on whichever member is primary.
set_uri="mongodb://mongo-rs1:27017,mongo-rs2:27017,mongo-rs3:27017/admin?replicaSet=rs0"
mongosh --quiet "$set_uri" --username "$MONGO_INITDB_ROOT_USERNAME" --password "$MONGO_INITDB_ROOT_PASSWORD" \
	--authenticationDatabase admin "$here/app-user.js"
