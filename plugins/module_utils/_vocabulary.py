# -*- coding: utf-8 -*-
# Copyright: (c) 2026, smsbox.account contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The words of whoever reads a message: the options as the caller sets them.

The same converge code serves the modules, whose users set module options (``adopt: true``), and the
role, whose users set role variables (``smsbox_adopt: true``) and describe sub-accounts on hosts.
A message that tells what to set is built with the caller's vocabulary (``Run.words``), never
rewritten afterwards: ``run.words.say('%s: set {adopt}: true', where)``.
"""

from __future__ import absolute_import, division, print_function
__metaclass__ = type


class Vocabulary(dict):
    """``{module option: the caller's word for it}``; an option it does not name keeps the module's word.

    Besides the options, ``subaccount_task``: what creates, adopts or describes a sub-account for this caller.
    """

    def __missing__(self, option):
        return option

    def say(self, template, *values):
        """``template`` with its ``{option}`` fields in these words, then ``%`` with ``values`` (so that nothing a value holds
        is read as a field)."""
        text = template.format_map(self)
        return text % values if values else text


MODULE_VOCABULARY = Vocabulary(subaccount_task='smsbox.account.smsbox_subaccount')
