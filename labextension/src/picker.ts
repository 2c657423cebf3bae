import { IModelInfo } from './protocol';

export const ADD_KEY_PREFIX = 'add-key:';

const PROVIDER_LABELS: Record<string, string> = {
  demo: 'Built in',
  kernel: 'Kernel',
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  google: 'Google',
  groq: 'Groq',
  bedrock: 'Amazon Bedrock',
  ollama: 'Ollama'
};

/**
 * Fills the model `<select>`: one group per provider, models registered in the kernel
 * under "Kernel", and for a provider with no key its models disabled plus "Add key…".
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
  const order = [...groups.keys()].sort((a, b) => rank(a) - rank(b));
  select.replaceChildren();
  for (const group of order) {
    const optgroup = document.createElement('optgroup');
    optgroup.label = PROVIDER_LABELS[group] ?? group;
    const entries = groups.get(group) ?? [];
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
      addKey.textContent = `Add key for ${optgroup.label}…`;
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

function rank(group: string): number {
  const index = Object.keys(PROVIDER_LABELS).indexOf(group);
  return index < 0 ? 100 : index;
}
