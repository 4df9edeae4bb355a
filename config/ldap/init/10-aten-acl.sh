#!/bin/bash
# bitnami/openldap: /docker-entrypoint-initdb.d/10-aten-acl.sh
#
# The image runs these scripts once, after its own initialisation and with slapd stopped
# (libopenldap.sh: ldap_initialize ends with ldap_stop, then ldap_custom_init_scripts), so the
# ACL is applied offline with slapmodify and the configuration checked with slaptest before
# slapd starts. Mount config/ldap/acl/aten-acl.ldif at /aten/acl/aten-acl.ldif.
set -o errexit -o nounset -o pipefail

conf_dir="${LDAP_ONLINE_CONF_DIR:-/bitnami/openldap/slapd.d}"
slapmodify -F "$conf_dir" -n 0 -l /aten/acl/aten-acl.ldif
slaptest -F "$conf_dir" -u
