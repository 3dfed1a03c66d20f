"""The customer-voice pipeline: voice read from files, the signed webhook and colleagues in chat;
personal data masked, sentiment and themes (themes.yaml, stopwords.txt), stored once, alerts and
spikes, the customer-voice digest, and the evidence that weighs ideas."""
