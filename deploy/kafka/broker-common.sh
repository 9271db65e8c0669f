# shellcheck shell=bash
# Sourced by deploy/stack.sh and deploy/compose/kafka.sh, so the local broker and the compose
# broker are one single-node broker with one security model (README, "Security model").

# broker_common_properties ADMIN_PASSWORD SCRAM_LISTENER...: server.properties lines of who
# connects, what they may do, and the single-node defaults. The listeners named (lower case)
# get the broker's own SCRAM login; CONTROLLER is always PLAIN, for admin only.
broker_common_properties() {
    local password="$1" listener
    shift
    cat <<PROPERTIES
# Who connects: SCRAM-SHA-512 users (the broker itself is admin, bootstrapped at format
# time, KIP-900); the controller listener takes only admin, by SASL/PLAIN, because SCRAM
# credentials live in the metadata the controller serves.
sasl.enabled.mechanisms=SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
sasl.mechanism.controller.protocol=PLAIN
listener.name.controller.sasl.enabled.mechanisms=PLAIN
listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="$password" user_admin="$password";

# What they may do: only what shared/access.py grants (deploy/access.py applies it).
authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer
super.users=User:admin
allow.everyone.if.no.acl.found=false

# Topics come from deploy/topics.txt only; one node, so one replica of everything.
auto.create.topics.enable=false
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

# Records up to 4 MiB (+ 64 KiB of batch overhead).
message.max.bytes=4259840
PROPERTIES
    for listener in "$@"; do
        printf 'listener.name.%s.scram-sha-512.sasl.jaas.config=%s\n' "$listener" \
            "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"$password\";"
    done
}
