import { IModelInfo } from './protocol';

export const ADD_KEY_PREFIX = 'add-key:';

/**
 * Fills the model `<select>`: one group per provider, in the kernel's order and labelled
 * with the kernel's `provider_label` (the provider table lives in the kernel), models
 * registered in the kernel in their own group, and for a provider with no key its models
 * disabled plus "Add key…" ("Set URL…" for one that asks for no secret, as Ollama).
 */
export function fillModelPicker(
  select: HTMLSelectElement,
  models: readonly IModelInfo[],
  selected: string
): void {
  const groups = new Map<string, IModelInfo[]>();
  for (const model of models) {
    const group = groupOf(model);
    groups.set(group, [...(groups.get(group) ?? []), model]);
  }
  select.replaceChildren();
  for (const [group, entries] of groups) {
    const optgroup = document.createElement('optgroup');
    optgroup.label = entries[0].provider_label || group;
    for (const model of entries) {
      const option = document.createElement('option');
      option.value = model.id;
      option.textContent = model.label || model.id;
      option.disabled = !model.configured;
      optgroup.appendChild(option);
    }
    if (entries.some(model => !model.configured)) {
      const addKey = document.createElement('option');
      addKey.value = ADD_KEY_PREFIX + group;
      const asksForUrl = entries.find(model => !model.configured)?.asks_for === 'url';
      addKey.textContent = `${asksForUrl ? 'Set URL' : 'Add key'} for ${optgroup.label}…`;
      optgroup.appendChild(addKey);
    }
    select.appendChild(optgroup);
  }
  const usable = models.filter(model => model.configured).map(model => model.id);
  select.value = usable.includes(selected) ? selected : (usable[0] ?? '');
}

function groupOf(model: IModelInfo): string {
  if (model.source === 'kernel') {
    return 'kernel';
  }
  return model.provider || 'demo';
}
