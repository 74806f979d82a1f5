# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""state_reconcile's module object: the one object that talks to AnsibleModule.

The sequence of ``_module.runner.converge``: one unlocked look plans every
instance (check mode reports it); the real run then takes each instance's
lock in turn, plans it again there and acts (``Reconciler.execute``; the
action kinds and what each does are the ``_do_<kind>`` methods of
``_reconcile/actions.py``, named by ``_reconcile/policy.py``).
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput, ReconcileIncomplete
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import validate_uuid
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import RECORD_FIELDS
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import changes, concerns_other_hosts
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import Reconciler, run_all

REPORT_KEYS = ('compute_host', 'records', 'migrations')


def validate_fleet(fleet):
    """The ``fleet`` option: the ``report`` results of state_reconcile on
    the hypervisors (the reconcile playbook gathers them)."""
    reports = []
    for index, report in enumerate(fleet or []):
        if not isinstance(report, dict) or any(key not in report for key in REPORT_KEYS):
            raise InvalidInput('fleet[%d] is not a state_reconcile report (keys %s)' % (index, ', '.join(REPORT_KEYS)))
        if not isinstance(report['records'], list) or not isinstance(report['migrations'], list):
            raise InvalidInput('fleet[%d]: records and migrations must be lists' % index)
        reports.append(report)
    return reports


class ReconcileModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        p = module.params
        self.params = p
        super().__init__(Hypervisor.from_params(p))
        self.reconciler = Reconciler(self.hv, resume=p['resume_guests_state_on_host_boot'],
                                     shutdown_timeout=p['shutdown_timeout'], wait_timeout=p['wait_timeout'])

    def _owners(self):
        owners = {}
        for uuid, host in (self.params.get('owners') or {}).items():
            owners[validate_uuid(uuid)] = str(host)
        return owners

    def run(self):
        mode = self.params['mode']
        owners = self._owners()
        fleet = validate_fleet(self.params.get('fleet'))
        only = set(self.params.get('instances') or [])
        if any(not item for item in only):
            raise InvalidInput('instances must not contain empty names')
        with self.host:
            outcome = converge(self.module.check_mode,
                               assess=lambda _previous: self._look(mode, owners, only, fleet),
                               act=self._act, report=lambda look: (look[0], None))
        result, done = outcome[0], outcome[1]
        if done is None:
            return result
        results, errors, removed, done_concerns = done
        result.update(results=results, errors=errors, leftovers_removed=removed,
                      others_concerned=result['others_concerned'] or done_concerns,
                      changed=any(r.get('done') and any(a['action'] != 'note' for a in r['done']) for r in results)
                      or errors > 0 or bool(removed))
        if errors and self.params['fail_on_error']:
            raise ReconcileIncomplete('%d instance(s) could not be reconciled' % errors, **result)
        return result

    def _look(self, mode, owners, only, fleet):
        """The plan of every instance and move of this host, and the host's
        leftovers, from one unlocked look: (result, entries, files, mode)."""
        records = self.store.list()
        entries, orphans = self.reconciler.plan(mode, records, owners, only, fleet)
        files = self.reconciler.host_leftovers() if mode != 'sync' and not only else []
        result = {'changed': any(changes(e['actions']) for e in entries) or bool(files),
                  'others_concerned': any(self._concerns_others(e, [a.kind for a in e['actions']]) for e in entries),
                  'compute_host': self.this_host, 'mode': mode, 'plan': [self._view(e) for e in entries],
                  'orphans': orphans, 'leftovers': files, 'results': [], 'errors': 0,
                  'report': self.reconciler.report(records),
                  'records': [r.fields(RECORD_FIELDS) for r in records]}
        return result, entries, files, mode

    def _act(self, look):
        """The real run: each entry planned again and carried out under its
        instance lock (``Reconciler.execute``), then the host's leftovers
        removed. (result, None) when the look plans nothing."""
        result, entries, files, mode = look
        if not result['changed']:
            return result, None
        results, errors = run_all(self.reconciler, entries, mode)
        removed = self.reconciler.remove_host_leftovers() if files else []
        # what was done under the locks may differ from what the look planned
        by_uuid = dict((e['uuid'], e) for e in entries)
        done_concerns = any(self._concerns_others(by_uuid[r['uuid']], [a['action'] for a in r['done']])
                            for r in results if r.get('done') and r['uuid'] in by_uuid)
        return result, (results, errors, removed, done_concerns)

    def _concerns_others(self, entry, kinds):
        """``concerns_other_hosts`` for the actions ``kinds`` of the plan entry ``entry``."""
        return concerns_other_hosts(kinds, entry.get('outcome') is not None, entry['owner'], self.this_host)

    @staticmethod
    def _view(entry):
        view = {'uuid': entry['uuid'], 'name': entry['name'], 'owner': entry['owner'],
                'observed_power_state': entry['observed']['power_state'],
                'actions': [a.to_dict() for a in entry['actions']]}
        if entry.get('outcome') is not None:
            view['migration'] = entry['outcome'].to_dict()
        return view
