# Cunwu — the two commands: `make run` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
PORT   ?= 8080
FAKE_PORT ?= 8081

# Development settings: the bot talks to the local fake WeChat platform.
DEV_ENV = CUNWU_WECHAT_APPID=wxcunwudev0000001 \
	CUNWU_WECHAT_SECRET=dev-secret-not-for-production \
	CUNWU_WECHAT_TOKEN=cunwudevtoken \
	CUNWU_WECHAT_AES_KEY=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG \
	CUNWU_WECHAT_API_BASE=http://127.0.0.1:$(FAKE_PORT) \
	CUNWU_WECOM_API_BASE=http://127.0.0.1:$(FAKE_PORT) \
	CUNWU_PUBLIC_URL=http://127.0.0.1:$(PORT) \
	CUNWU_SECRET_KEY=ZGV2ZWxvcG1lbnQta2V5LW5vdC1mb3ItcHJvZCEhISE=

.PHONY: run test lint venv system-deps clean bench chat dev-channels

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

run: venv
	$(BIN)/cunwu db upgrade
	$(BIN)/cunwu load-sample
	@$(MAKE) --no-print-directory dev-channels
	@command -v espeak-ng >/dev/null || echo "提示：未安装 espeak-ng/lame，广播音频将跳过（make system-deps 可安装）。"
	@echo "假微信平台：http://127.0.0.1:$(FAKE_PORT)   机器人：http://127.0.0.1:$(PORT)/wechat"
	@echo "另开一个终端与机器人对话：make chat"
	@$(DEV_ENV) $(BIN)/cunwu dev fake-wechat --port $(FAKE_PORT) & FAKE=$$!; \
	trap "kill $$FAKE 2>/dev/null" EXIT INT TERM; \
	$(DEV_ENV) $(BIN)/cunwu serve --port $(PORT)

# Every sample WeChat group gets a development robot key (the fake platform accepts any key), every
# village an official-account tag and a loudspeaker outbox under var/outbox/.
dev-channels: venv
	@tail -n +2 examples/qinghe/villages.csv | while IFS=, read code name town hh pop lang groups wx zones; do \
		args=""; i=0; \
		for g in $$(echo "$$wx" | sed 's/；/ /g'); do i=$$((i+1)); args="$$args --robot=$$g=dev-$$code-$$i"; done; \
		$(DEV_ENV) $(BIN)/cunwu village channels $$code --oa-tag "$${code}村民" --outbox var/outbox/$$code $$args >/dev/null; \
	done
	@echo "示例村的推送渠道已设置：机器人 key（开发用）、公众号标签、大喇叭文件夹 var/outbox/"

chat: venv
	$(DEV_ENV) $(BIN)/cunwu chat --encrypt --url http://127.0.0.1:$(PORT)/wechat

test: venv
	$(BIN)/pytest -q -rs -n auto $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: venv
	$(BIN)/python bench/matcher_quality.py
	$(BIN)/python bench/matcher_speed.py
	$(BIN)/python bench/endpoint.py
	$(BIN)/python bench/speech.py
	$(BIN)/python bench/import_lock.py
	$(BIN)/python bench/push.py

# Optional system packages: offline speech (espeak-ng, lame) and Chromium for the page test.
system-deps:
	@if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng lame chromium fonts-noto-cjk; \
	else echo "请以 root 运行：sudo apt-get install -y espeak-ng lame chromium fonts-noto-cjk"; fi

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
