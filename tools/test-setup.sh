#!/bin/bash -xe
# Create the openstack_citest user and database on the local MariaDB and
# PostgreSQL servers, as oslo.db's opportunistic test fixtures expect.
# Run as a user that can administer both (root here, as in CI).

DB_ROOT_PW=${MYSQL_ROOT_PW:-}
DB_USER=openstack_citest
DB_PW=openstack_citest

# PostgreSQL here trusts local TCP connections of its superuser.
pg_admin() {
    psql -h 127.0.0.1 -U "${PG_ADMIN_USER:-postgres}" "$@"
}

mysql_root() {
    if [ -n "$DB_ROOT_PW" ]; then
        mysql -u root -p"$DB_ROOT_PW" -h 127.0.0.1 "$@"
    else
        mysql -u root -h 127.0.0.1 "$@"
    fi
}

mysql_root -e "
    CREATE USER IF NOT EXISTS '$DB_USER'@'%' IDENTIFIED BY '$DB_PW';
    CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PW';
    GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'%' WITH GRANT OPTION;
    GRANT ALL PRIVILEGES ON *.* TO '$DB_USER'@'localhost' WITH GRANT OPTION;
    FLUSH PRIVILEGES;
    CREATE DATABASE IF NOT EXISTS openstack_citest CHARACTER SET utf8mb4;"

pg_admin -v ON_ERROR_STOP=1 <<SQL
DO \$\$BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER') THEN
    CREATE ROLE $DB_USER LOGIN SUPERUSER PASSWORD '$DB_PW';
  END IF;
END\$\$;
SQL
if ! pg_admin -lqt | cut -d'|' -f1 | grep -qw openstack_citest; then
    pg_admin -c "CREATE DATABASE openstack_citest OWNER $DB_USER"
fi
