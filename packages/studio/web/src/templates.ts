/** Starting points for a new study of each kind (the test model server's provider block left out). */
export const TEMPLATES: Record<string, string> = {
  game: `kind: game
name: my-game
seed: 1
groups: 4
rounds: 2
model: mock:random
system: You are the {{ role }} in a two-player game.
roles:
  first: { count: 1 }
  second: { count: 1 }
treatments:
  low: { bonus: 1 }
  high: { bonus: 5 }
stages:
  - name: pick
    prompt: "Round {{ round }}. You both earn {{ bonus }} if you pick the same letter. Answer A or B."
    parse: { type: choice, options: [A, B] }
payoffs:
  first: "bonus if me.pick == other.pick else 0"
  second: "bonus if me.pick == other.pick else 0"
`,
  factorial: `kind: factorial
name: my-factorial
prompt: |
  Rate {{ item }} on a scale from 0 to 10. Respond only with a number.
levels:
  item: [apples, pears]
model: mock:random
times: 3
parse: { type: number, min: 0, max: 10 }
seed: 1
`,
  stimuli: `kind: stimuli
name: my-stimuli
model: mock:random
stimuli: stimuli.csv # Run, Item, Event, Condition, Prompt columns; relative to this file
design: one-trial-per-run
parse: { type: choice, options: [he, she] }
seed: 1
`,
  otree: `kind: otree
name: my-otree
otree:
  url: http://127.0.0.1:8000 # a running oTree server; or project: FOLDER (silico starts its devserver)
session:
  config: my_config # a name in the project's SESSION_CONFIGS
  participants: 2
bots:
  model: mock:random
  system: "You are {{ persona.name }}, seat {{ seat }} of an economic experiment."
  personas:
    - { name: Ada }
    - { name: Ben }
`,
  agents: `kind: agents
name: my-agents
model: mock:random
agents:
  advisor:
    owner: participant
    system: "You advise a participant of {{ app }}, round {{ round }}."
    prompt: "The participant says: {{ message }}"
`,
};
