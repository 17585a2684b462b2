// Creates the service's MongoDB user, or brings its password and roles up to date:
// readWrite on the service's database and nothing else (finds, writes, indexes and
// collections of that database; ping and hello need no role). Run by mongosh as a
// user administrator: by the mongo image from /docker-entrypoint-initdb.d on a new
// data volume, and by replica-init.sh on the replica set's primary. The names and the
// password come from the environment, never from this file.
const user = process.env.MONGODB_APP_USERNAME;
const pwd = process.env.MONGODB_APP_PASSWORD;
const database = process.env.MONGODB_DATABASE || 'clinic';
if (!user || !pwd) {
  throw new Error('set MONGODB_APP_USERNAME and MONGODB_APP_PASSWORD');
}
const admin = db.getSiblingDB('admin');
const roles = [{ role: 'readWrite', db: database }];
if (admin.getUser(user)) {
  admin.updateUser(user, { pwd, roles });
  print(`user ${user}: updated, readWrite on ${database}`);
} else {
  admin.createUser({ user, pwd, roles });
  print(`user ${user}: created, readWrite on ${database}`);
}
