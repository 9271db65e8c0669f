#!/usr/bin/env bash
# The broker of docker-compose.yml, inside the apache/kafka image: the same security as
# deploy/stack.sh (SCRAM-SHA-512 users, ACLs, admin the only super user), on the compose
# network. Run as the container's command; the admin password comes from the environment.
set -euo pipefail
: "${KAFKA_ADMIN_PASSWORD:?set KAFKA_ADMIN_PASSWORD (bash deploy/stack.sh compose-env)}"
state=/var/lib/kafka/state
config="$state/server.properties"
mkdir -p "$state/data"
umask 077
# shellcheck source=deploy/kafka/broker-common.sh
source /deploy/broker-common.sh
cat >"$config" <<CONFIG
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:9093
listeners=CLIENT://:9092,CONTROLLER://localhost:9093
advertised.listeners=CLIENT://kafka:9092,CONTROLLER://localhost:9093
listener.security.protocol.map=CLIENT:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=CLIENT
log.dirs=$state/data
$(broker_common_properties "$KAFKA_ADMIN_PASSWORD" client)
CONFIG
if [ ! -f "$state/data/meta.properties" ]; then
    /opt/kafka/bin/kafka-storage.sh format --standalone --config "$config" \
        --cluster-id "$(/opt/kafka/bin/kafka-storage.sh random-uuid)" \
        --add-scram "SCRAM-SHA-512=[name=admin,password=$KAFKA_ADMIN_PASSWORD]"
fi
exec /opt/kafka/bin/kafka-server-start.sh "$config"
