"""Security: TLS contexts and certificates, SCRAM passwords, principals.

Certificates and TLS live here (they need files and `ssl`); the parts every node must agree on
(users and ACL rules) are broker state, replicated through Raft (`wiber.broker.access`).
"""
