#!/usr/bin/env bash
# Starts the local MariaDB and RabbitMQ servers the tests use, when they are
# installed but not running. A service that is not installed is left alone:
# the tests that need it are then skipped with a loud reason.
set -u

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && exec 3>&- 3<&-
}

wait_port() {  # wait_port PORT SECONDS
    local i
    for ((i = 0; i < $2 * 4; i++)); do
        port_open "$1" && return 0
        sleep 0.25
    done
    return 1
}

if ! port_open 3306 && [ -x /usr/sbin/mariadbd ]; then
    echo "services: starting MariaDB"
    start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd -- --user=mysql \
        || start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
    wait_port 3306 30 || echo "services: MariaDB did not come up on 127.0.0.1:3306"
fi

if ! port_open 5672 && command -v rabbitmq-server >/dev/null 2>&1; then
    echo "services: starting RabbitMQ"
    rabbitmq-server -detached || true
    wait_port 5672 60 || echo "services: RabbitMQ did not come up on 127.0.0.1:5672"
fi
exit 0
