#!/bin/bash
# plugin.sh - DevStack plugin for cryptkeeper, the cleanup service.
#
# stack.sh, unstack.sh and clean.sh source this file once per phase, with
# the phase names as arguments ($1 is the mode, $2 the phase within it).

# Save trace setting
_XTRACE_CRYPTKEEPER_PLUGIN=$(set +o | grep xtrace)
set -o xtrace

# shellcheck source-path=SCRIPTDIR
# shellcheck source=lib/cryptkeeper
source "$(dirname "${BASH_SOURCE[0]}")/lib/cryptkeeper"

if is_cryptkeeper_enabled; then
    if [[ "$1" == "stack" && "$2" == "install" ]]; then
        echo_summary "Installing cryptkeeper"
        install_cryptkeeper
        install_cryptkeeperclient

    elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
        echo_summary "Configuring cryptkeeper"
        configure_cryptkeeper
        if is_service_enabled key; then
            create_cryptkeeper_accounts
        fi

    elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
        echo_summary "Initializing and starting cryptkeeper"
        init_cryptkeeper
        start_cryptkeeper
    fi

    if [[ "$1" == "unstack" ]]; then
        stop_cryptkeeper
    fi

    if [[ "$1" == "clean" ]]; then
        cleanup_cryptkeeper
    fi
fi

# Restore xtrace
$_XTRACE_CRYPTKEEPER_PLUGIN
